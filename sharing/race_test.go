package sharing_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"opendata/auth"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
	"opendata/notify"
	"opendata/sharing"
)

func count(t *testing.T, d *db.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := d.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (x *fx) file(t *testing.T) sharing.Request {
	t.Helper()
	req, err := x.svc.File(context.Background(), x.requester, sharing.NewRequest{ResourceID: x.cond.ID, Purpose: "核实低保对象的医师身份",
		LegalDuty: "《社会救助暂行办法》第十一条", TermDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// Eight providers' clicks (or eight instances) approve one request at
// once: one grant, one "approved" step, one audit event; the other seven
// are told someone else decided (409).
func TestConcurrentApprovalsGrantOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := setup(t, d)
		req := x.file(t)
		const n = 8
		errc := make(chan error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := x.svc.Approve(ctx, x.provider, req.ID, nil, 0)
				errc <- err
			}()
		}
		wg.Wait()
		close(errc)
		won, lost := 0, 0
		for err := range errc {
			switch {
			case err == nil:
				won++
			case errors.Is(err, errs.Conflict):
				lost++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if won != 1 || lost != n-1 {
			t.Fatalf("%d approvals won, %d lost; want 1 and %d", won, lost, n-1)
		}
		if g := count(t, d, "SELECT COUNT(*) FROM share_grants WHERE request_id = ?", req.ID); g != 1 {
			t.Fatalf("%d grants", g)
		}
		if e := count(t, d, "SELECT COUNT(*) FROM share_request_events WHERE request_id = ? AND action = 'approved'", req.ID); e != 1 {
			t.Fatalf("%d approved steps", e)
		}
		if a := count(t, d, "SELECT COUNT(*) FROM audit_events WHERE action = 'share.approved'"); a != 1 {
			t.Fatalf("%d audit events", a)
		}
	})
}

// The overdue clock (every instance, every minute) races the provider's
// approval: the request ends either approved with its grant, or escalated
// with none — never escalated with a live grant.
func TestApprovalRacingEscalation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := setup(t, d)
		for round := 0; round < 6; round++ {
			x.now = time.Date(2025, 9, 30, 17, 0, 0, 0, sh)
			req := x.file(t)
			x.now = time.Date(2025, 10, 20, 10, 0, 0, 0, sh) // past the 5 working days
			var wg sync.WaitGroup
			var approveErr error
			escalated := make([]int, 3)
			for i := 0; i < 3; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					n, err := x.svc.EscalateOverdue(ctx)
					if err != nil {
						t.Error(err)
					}
					escalated[i] = n
				}(i)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, approveErr = x.svc.Approve(ctx, x.provider, req.ID, nil, 0)
			}()
			wg.Wait()
			got, err := x.svc.Get(ctx, req.ID)
			if err != nil {
				t.Fatal(err)
			}
			grants := count(t, d, "SELECT COUNT(*) FROM share_grants WHERE request_id = ?", req.ID)
			steps := count(t, d, "SELECT COUNT(*) FROM share_request_events WHERE request_id = ? AND action IN ('approved', 'overdue_escalated')", req.ID)
			moved := escalated[0] + escalated[1] + escalated[2]
			switch got.Status {
			case sharing.Approved:
				if approveErr != nil || grants != 1 || moved != 0 {
					t.Fatalf("approved: approve err %v, %d grants, %d escalations", approveErr, grants, moved)
				}
			case sharing.EscalatedOffice:
				if !errors.Is(approveErr, errs.Conflict) || grants != 0 || moved != 1 {
					t.Fatalf("escalated: approve err %v, %d grants, %d escalations", approveErr, grants, moved)
				}
			default:
				t.Fatalf("status %s", got.Status)
			}
			if steps != 1 {
				t.Fatalf("%d decisive steps recorded", steps)
			}
		}
	})
}

// Two answers to one dispute (on data the reporter reads: unconditionally
// shared): one is recorded.
func TestConcurrentDisputeAnswers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := setup(t, d)
		v, err := x.cat.ReserveVersion(ctx, auth.System, x.open.ID, "a.csv", "csv")
		if err != nil {
			t.Fatal(err)
		}
		if err := x.cat.CommitVersion(ctx, v); err != nil {
			t.Fatal(err)
		}
		dp, err := x.svc.ReportDispute(ctx, x.requester, x.open, sharing.NewDispute{Version: v.Number, RowKey: "1", Column: "姓名", Problem: "姓名与身份证不符"})
		if err != nil {
			t.Fatal(err)
		}
		const n = 6
		errc := make(chan error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := x.svc.AnswerDispute(ctx, x.provider, dp.ID, i%2 == 0, "已核实", 0)
				errc <- err
			}(i)
		}
		wg.Wait()
		close(errc)
		won := 0
		for err := range errc {
			if err == nil {
				won++
			} else if !errors.Is(err, errs.Conflict) {
				t.Errorf("unexpected: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d answers won", won)
		}
		if a := count(t, d, "SELECT COUNT(*) FROM audit_events WHERE action IN ('dispute.confirmed', 'dispute.rejected')"); a != 1 {
			t.Fatalf("%d audit events", a)
		}
	})
}

// Several instances run the reminder loop at the same moment: the provider
// gets one reminder, not one per instance.
func TestReminderClaimedOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := setup(t, d)
		x.svc.Notify = &notify.Notifier{DB: d}
		x.file(t)
		x.now = time.Date(2025, 10, 13, 10, 0, 0, 0, sh) // one working day left
		var wg sync.WaitGroup
		sent := make([]int, 4)
		for i := range sent {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				n, err := x.svc.RemindDue(ctx)
				if err != nil {
					t.Error(err)
				}
				sent[i] = n
			}(i)
		}
		wg.Wait()
		if total := sent[0] + sent[1] + sent[2] + sent[3]; total != 1 {
			t.Fatalf("%d reminders sent by 4 instances", total)
		}
		if n := count(t, d, "SELECT COUNT(*) FROM notifications WHERE kind = 'share_request_due'"); n != 1 {
			t.Fatalf("%d reminder notices stored", n)
		}
	})
}

package notify_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"opendata/db"
	"opendata/db/dbtest"
	"opendata/notify"
	"opendata/notify/notifytest"
)

func status(t *testing.T, d *db.DB, id int64) (st string, attempts int, lastErr string) {
	t.Helper()
	if err := d.QueryRow(context.Background(), "SELECT status, attempts, last_error FROM mail_outbox WHERE id = ?", id).Scan(&st, &attempts, &lastErr); err != nil {
		t.Fatal(err)
	}
	return st, attempts, lastErr
}

// N senders (N instances) drain one outbox: each message reaches the
// server exactly once.
func TestOutboxSentOnceByManySenders(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		addr, got := notifytest.FakeSMTP(t)
		const messages, senders = 40, 4
		for i := 0; i < messages; i++ {
			if err := notify.Enqueue(ctx, d, notify.Mail{To: []string{"a@example.cn"}, Subject: fmt.Sprintf("msg-%02d", i), Body: "body"}); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for i := 0; i < senders; i++ {
			s := &notify.Sender{DB: d, Mail: &notify.Mailer{Addr: addr, From: "opendata@example.cn", Timeout: 10 * time.Second}}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := s.RunOnce(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					total += n
					mu.Unlock()
					if w, _, _ := notify.Counts(ctx, d); w == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		if total != messages {
			t.Fatalf("senders report %d sent, want %d", total, messages)
		}
		subject := regexp.MustCompile(`Subject: =\?UTF-8\?B\?([^?]+)\?=`)
		seen := map[string]int{}
		for len(seen) < messages {
			select {
			case m := <-got:
				seen[subject.FindStringSubmatch(m)[1]]++
			case <-time.After(5 * time.Second):
				t.Fatalf("server got %d distinct messages, want %d", len(seen), messages)
			}
		}
		select {
		case m := <-got:
			t.Fatalf("a message was sent twice: %q", m)
		case <-time.After(200 * time.Millisecond):
		}
		for k, n := range seen {
			if n != 1 {
				t.Fatalf("%s sent %d times", k, n)
			}
		}
		var sent int
		d.QueryRow(ctx, "SELECT COUNT(*) FROM mail_outbox WHERE status = 'sent' AND attempts = 1").Scan(&sent)
		if sent != messages {
			t.Fatalf("%d rows sent at the first attempt, want %d", sent, messages)
		}
	})
}

// A mail server that is down: the message waits with its error and a
// growing pause, is delivered once the server is back, and is given up —
// failed, counted, reported by Health — after MaxAttempts.
func TestOutboxRetriesAndGivesUp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		addr, up := notifytest.DownSMTP(t)
		now := time.Now().UTC().Add(time.Second) // after the enqueue
		s := &notify.Sender{DB: d, Mail: &notify.Mailer{Addr: addr, From: "opendata@example.cn", Timeout: 5 * time.Second},
			MaxAttempts: 3, Backoff: time.Minute, Now: func() time.Time { return now }}
		if err := notify.Enqueue(ctx, d, notify.Mail{To: []string{"a@example.cn"}, Subject: "retry me", Body: "b"}); err != nil {
			t.Fatal(err)
		}
		var id int64
		d.QueryRow(ctx, "SELECT MAX(id) FROM mail_outbox").Scan(&id)
		if n, err := s.RunOnce(ctx); err != nil || n != 0 {
			t.Fatalf("server down: sent %d, %v", n, err)
		}
		if st, att, le := status(t, d, id); st != notify.MailPending || att != 1 || le == "" {
			t.Fatalf("after a failure: %s, %d attempts, %q", st, att, le)
		}
		if s.Health() == nil {
			t.Fatal("Health reports no failure with the server down")
		}
		// Not retried before the pause ends.
		if n, _ := s.RunOnce(ctx); n != 0 {
			t.Fatal("retried at once")
		}
		if _, att, _ := status(t, d, id); att != 1 {
			t.Fatalf("retried before the pause: %d attempts", att)
		}
		got := up()
		now = now.Add(61 * time.Second)
		if n, err := s.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("server back: sent %d, %v", n, err)
		}
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("the server got nothing")
		}
		if st, att, _ := status(t, d, id); st != notify.MailSent || att != 2 {
			t.Fatalf("after the retry: %s, %d attempts", st, att)
		}
		if s.Health() != nil {
			t.Fatalf("Health after a success: %v", s.Health())
		}

		// Given up after MaxAttempts against a server that never answers.
		s.Mail.Addr, _ = notifytest.DownSMTP(t)
		notify.Enqueue(ctx, d, notify.Mail{To: []string{"a@example.cn"}, Subject: "doomed", Body: "b"})
		d.QueryRow(ctx, "SELECT MAX(id) FROM mail_outbox").Scan(&id)
		for i := 0; i < 5; i++ {
			s.RunOnce(ctx)
			now = now.Add(10 * time.Minute) // beyond every pause (1, 2 minutes)
		}
		if st, att, le := status(t, d, id); st != notify.MailFailed || att != 3 || le == "" {
			t.Fatalf("given up: %s, %d attempts, %q", st, att, le)
		}
		if w, f, err := notify.Counts(ctx, d); err != nil || w != 0 || f != 1 {
			t.Fatalf("counts: %d waiting, %d failed, %v", w, f, err)
		}
	})
}

// A mail server that accepts and then says nothing: the delivery ends at
// the timeout, and a notice (what a request writes) never talks to it.
func TestOutboxHangingServer(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	addr := notifytest.HangingSMTP(t)
	m := &notify.Mailer{Addr: addr, From: "opendata@example.cn", Timeout: 500 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- m.Send(ctx, []string{"a@example.cn"}, "s", "b") }()
	select {
	case err := <-done:
		var ne interface{ Timeout() bool }
		if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("send to a silent server: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Send did not give up on a silent server")
	}

	s := &notify.Sender{DB: d, Mail: &notify.Mailer{Addr: addr, From: "opendata@example.cn", Timeout: time.Hour}}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go s.Run(runCtx) // stuck in a delivery for the hour
	n := &notify.Notifier{DB: d, Sender: s}
	notified := make(chan struct{})
	go func() {
		for i := 0; i < 3; i++ {
			n.Send(ctx, "share_request_due", notify.Params("id", i), "/x", notify.To{Role: "bureau_admin"})
		}
		close(notified)
	}()
	select {
	case <-notified:
	case <-time.After(20 * time.Second):
		t.Fatal("a notice waited for the silent mail server")
	}
	var stored int
	d.QueryRow(ctx, "SELECT COUNT(*) FROM notifications").Scan(&stored)
	if stored != 3 {
		t.Fatalf("%d notices stored, want 3", stored)
	}
}

package notify_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"opendata/auth"
	"opendata/catalog"
	"opendata/db/dbtest"
	"opendata/i18n"
	"opendata/notify"
	"opendata/notify/notifytest"
)

func TestInboxAndMail(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	cat := &catalog.Store{DB: d}
	dept, _ := cat.CreateDepartment(ctx, catalog.Department{Code: "WJW", Name: "市卫生健康委员会"})
	u, _ := (&auth.Store{DB: d}).CreateUser(ctx, auth.NewUser{Username: "wj_staff", Password: "0123456789ab", Role: auth.RoleDeptStaff, DepartmentID: dept.ID})
	d.Exec(ctx, "UPDATE users SET email = 'wj@example.gov.cn' WHERE id = ?", u.ID)
	addr, got := notifytest.FakeSMTP(t)
	sender := &notify.Sender{DB: d, Mail: &notify.Mailer{Addr: addr, From: "opendata@example.gov.cn"}}
	n := &notify.Notifier{DB: d, Sender: sender}
	n.Send(ctx, "share_request_due", notify.Params("id", 7, "name", "执业医师注册信息", "deadline", "2025-10-14"), "/x", notify.To{DepartmentID: dept.ID})
	if sent, err := sender.RunOnce(ctx); err != nil || sent != 1 {
		t.Fatalf("outbox: sent %d, %v", sent, err)
	}
	select {
	case msg := <-got:
		subject := "共享申请 #7（执业医师注册信息）将于 2025-10-14 到期，仅剩 1 个工作日"
		if !strings.Contains(msg, "To: wj@example.gov.cn") || !strings.Contains(msg, base64.StdEncoding.EncodeToString([]byte(subject))) || !strings.Contains(msg, subject) {
			t.Fatalf("mail: %s", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no e-mail sent")
	}
	inbox, err := n.Inbox(ctx, dept.ID, "", "en")
	if err != nil || len(inbox) != 1 || inbox[0].Read || inbox[0].Text != "Share request #7 (执业医师注册信息) is due on 2025-10-14: one working day left" {
		t.Fatalf("inbox %v %+v", err, inbox)
	}
	n.MarkRead(ctx, inbox[0].ID, dept.ID, "")
	if inbox, _ := n.Inbox(ctx, dept.ID, "", "zh-CN"); !inbox[0].Read {
		t.Fatal("not marked read")
	}
	if other, _ := n.Inbox(ctx, dept.ID+1, "", "zh-CN"); len(other) != 0 {
		t.Fatal("another department sees the notice")
	}
}

// A notice says a status in the reader's words, never its code; other
// values stay as they are.
func TestTextSaysStatusesInWords(t *testing.T) {
	p := notify.Params("id", 7, "name", "公交站点信息", "status", "share_status.refused", "reason", "a.b 不是键")
	for lang, want := range map[string]string{
		i18n.ZH: "共享申请 #7（公交站点信息）的处理结果：已拒绝 a.b 不是键",
		i18n.EN: "refused a.b 不是键",
	} {
		if got := notify.Text(lang, "share_request_decided", p); !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", lang, got, want)
		}
	}
}

package notify_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"opendata/auth"
	"opendata/catalog"
	"opendata/db/dbtest"
	"opendata/notify"
)

// fakeSMTP accepts one message and returns what it received.
func fakeSMTP(t *testing.T) (string, <-chan string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		w := func(s string) { c.Write([]byte(s + "\r\n")) }
		w("220 fake ESMTP")
		var data strings.Builder
		inData := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if inData {
				if line == ".\r\n" {
					inData = false
					w("250 ok")
					got <- data.String()
					continue
				}
				data.WriteString(line)
				continue
			}
			switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
			case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
				w("250 fake")
			case strings.HasPrefix(cmd, "DATA"):
				inData = true
				w("354 go")
			case strings.HasPrefix(cmd, "QUIT"):
				w("221 bye")
				return
			default:
				w("250 ok")
			}
		}
	}()
	return ln.Addr().String(), got
}

func TestInboxAndMail(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	cat := &catalog.Store{DB: d}
	dept, _ := cat.CreateDepartment(ctx, catalog.Department{Code: "WJW", Name: "市卫生健康委员会"})
	u, _ := (&auth.Store{DB: d}).CreateUser(ctx, auth.NewUser{Username: "wj_staff", Password: "0123456789ab", Role: auth.RoleDeptStaff, DepartmentID: dept.ID})
	d.Exec(ctx, "UPDATE users SET email = 'wj@example.gov.cn' WHERE id = ?", u.ID)
	addr, got := fakeSMTP(t)
	n := &notify.Notifier{DB: d, Mail: &notify.Mailer{Addr: addr, From: "opendata@example.gov.cn"}}
	n.Send(ctx, "share_request_due", notify.Params("id", 7, "name", "执业医师注册信息", "deadline", "2025-10-14"), "/x", notify.To{DepartmentID: dept.ID})
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

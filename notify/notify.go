// Package notify tells people about steps with deadlines: an in-app inbox
// per department (and per role for the bureau and the office), and e-mail
// to the department's staff when an SMTP server is configured.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"opendata/db"
	"opendata/i18n"
)

// Notice is one message in an inbox.
type Notice struct {
	ID        int64             `json:"id"`
	Kind      string            `json:"kind"`
	Params    map[string]string `json:"params"`
	Text      string            `json:"text"`
	Link      string            `json:"link,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	Read      bool              `json:"read"`
}

// Notifier writes notices.
type Notifier struct {
	DB     *db.DB
	Sender *Sender // nil: in-app only
	Log    *slog.Logger
}

// Mails reports whether notices also go out by e-mail.
func (n *Notifier) Mails() bool { return n != nil && n.Sender != nil }

// To addresses a notice: a department's inbox, a role's (bureau, office)
// or one account's (a public developer).
type To struct {
	DepartmentID int64
	Role         string
	UserID       int64
}

// Send records a notice for each recipient and queues the e-mail to their
// staff, in one transaction of its own; a failure is logged (the act it
// tells of has happened). Use SendTx inside the act's transaction.
func (n *Notifier) Send(ctx context.Context, kind string, params map[string]string, link string, to ...To) {
	if n == nil {
		return
	}
	if err := n.DB.Tx(ctx, func(q db.Querier) error { return n.SendTx(ctx, q, kind, params, link, to...) }); err != nil && n.Log != nil {
		n.Log.ErrorContext(ctx, "notification not stored", "kind", kind, "err", err)
	}
	n.Sender.Wake()
}

// SendTx records the notices and queues their e-mail through q, the
// transaction of the act they tell of: no act, no notice; no notice, no act.
func (n *Notifier) SendTx(ctx context.Context, q db.Querier, kind string, params map[string]string, link string, to ...To) error {
	if n == nil {
		return nil
	}
	p, _ := json.Marshal(params)
	for _, t := range to {
		var dept, user any
		if t.DepartmentID != 0 {
			dept = t.DepartmentID
		}
		if t.UserID != 0 {
			user = t.UserID
		}
		if _, err := q.Exec(ctx, "INSERT INTO notifications (department_id, role, user_id, kind, params, link, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
			dept, t.Role, user, kind, string(p), link, db.Now()); err != nil {
			return err
		}
		if n.Sender != nil {
			if err := n.queue(ctx, q, kind, params, link, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// Mail queues one message to the given addresses (sign-up links and the
// like) and wakes the sender; false when e-mail is not configured.
func (n *Notifier) Mail(ctx context.Context, m Mail) (bool, error) {
	if !n.Mails() {
		return false, nil
	}
	if err := Enqueue(ctx, n.DB, m); err != nil {
		return true, err
	}
	n.Sender.Wake()
	return true, nil
}

func (n *Notifier) queue(ctx context.Context, q db.Querier, kind string, params map[string]string, link string, t To) error {
	query, args := "SELECT email FROM users WHERE active = 1 AND email <> '' AND department_id = ?", []any{t.DepartmentID}
	if t.UserID != 0 {
		query, args = "SELECT email FROM users WHERE email <> '' AND id = ?", []any{t.UserID}
	} else if t.DepartmentID == 0 {
		query, args = "SELECT email FROM users WHERE active = 1 AND email <> '' AND role = ?", []any{t.Role}
	}
	to, err := db.QueryAll(ctx, q, query, db.Value[string], args...)
	if err != nil {
		return err
	}
	text := Text(i18n.ZH, kind, params)
	return Enqueue(ctx, q, Mail{To: to, Subject: text, Body: text + "\n\n" + link, Kind: kind})
}

// Inbox returns the newest notices for a department and a role.
func (n *Notifier) Inbox(ctx context.Context, dept int64, role, lang string) ([]Notice, error) {
	return n.inbox(ctx, lang, `SELECT id, kind, params, link, created_at, read_at FROM notifications
		WHERE (department_id = ? AND ? <> 0) OR (role <> '' AND role = ?) ORDER BY id DESC LIMIT 200`, dept, dept, role)
}

// UserInbox returns the newest notices for one account.
func (n *Notifier) UserInbox(ctx context.Context, user int64, lang string) ([]Notice, error) {
	return n.inbox(ctx, lang, `SELECT id, kind, params, link, created_at, read_at FROM notifications
		WHERE user_id = ? ORDER BY id DESC LIMIT 200`, user)
}

func (n *Notifier) inbox(ctx context.Context, lang, q string, args ...any) ([]Notice, error) {
	return db.QueryAll(ctx, n.DB, q, func(r db.Scanner) (Notice, error) {
		var x Notice
		var p string
		var read *time.Time
		if err := r.Scan(&x.ID, &x.Kind, &p, &x.Link, &x.CreatedAt, &read); err != nil {
			return x, err
		}
		json.Unmarshal([]byte(p), &x.Params)
		x.Read = read != nil
		x.Text = Text(lang, x.Kind, x.Params)
		return x, nil
	}, args...)
}

// MarkRead marks a notice of this inbox as read.
func (n *Notifier) MarkRead(ctx context.Context, id, dept int64, role string) error {
	_, err := n.DB.Exec(ctx, "UPDATE notifications SET read_at = ? WHERE id = ? AND ((department_id = ? AND ? <> 0) OR (role <> '' AND role = ?))", db.Now(), id, dept, dept, role)
	return err
}

// MarkUserRead marks one of a user's own notices as read.
func (n *Notifier) MarkUserRead(ctx context.Context, id, user int64) error {
	_, err := n.DB.Exec(ctx, "UPDATE notifications SET read_at = ? WHERE id = ? AND user_id = ? AND read_at IS NULL", db.Now(), id, user)
	return err
}

// Text is a notice in lang. A parameter whose value is a message key (a
// status: "share_status.refused") is said in lang too, so a notice never
// shows a vocabulary's code.
func Text(lang, kind string, params map[string]string) string {
	words := make(map[string]string, len(params))
	for k, v := range params {
		if strings.Contains(v, ".") && i18n.Has(v) {
			v = i18n.T(lang, v, nil)
		}
		words[k] = v
	}
	return i18n.T(lang, "notify."+kind, words)
}

// Params is a small helper for building notice parameters.
func Params(kv ...any) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = fmt.Sprint(kv[i+1])
	}
	return m
}

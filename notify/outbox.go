package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"strings"
	"sync"
	"time"

	"opendata/db"
)

// E-mail leaves through an outbox: a request (or the background step that
// decided something) only writes a row to mail_outbox, in its own
// transaction; a sender on every instance claims due rows with a
// conditional update whose rows-affected decides (one instance sends each
// message), talks to the SMTP server with a dial and a total timeout,
// retries with a growing pause and gives up after MaxAttempts, leaving the
// message "failed" with its last error for the operator (log, metrics,
// /readyz). No request path waits on the mail server.
//
// A sender that dies after the server accepted a message but before it
// marked it sent leaves the claim to expire, and the message is sent again:
// at least once across a crash, exactly once otherwise.

// Outbox states.
const (
	MailPending = "pending"
	MailSending = "sending"
	MailSent    = "sent"
	MailFailed  = "failed"
)

// Mail is one queued message.
type Mail struct {
	To      []string
	Subject string
	Body    string
	Kind    string // what it tells (a notice kind, "signup"); for the log
}

// Execer is what Enqueue writes through: a transaction or the database.
type Execer interface {
	Exec(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// Enqueue writes m to the outbox through q (the caller's transaction, or the
// database itself).
func Enqueue(ctx context.Context, q Execer, m Mail) error {
	if len(m.To) == 0 {
		return nil
	}
	to, _ := json.Marshal(m.To)
	now := db.Now()
	_, err := q.Exec(ctx, "INSERT INTO mail_outbox (recipients, subject, body, kind, status, attempts, next_at, created_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
		string(to), m.Subject, m.Body, m.Kind, MailPending, now, now)
	return err
}

// Sender delivers the outbox.
type Sender struct {
	DB   *db.DB
	Mail *Mailer
	Log  *slog.Logger
	// MaxAttempts is how many times a message is tried before it is
	// marked failed (default 8).
	MaxAttempts int
	// Backoff is the pause after the first failure; it doubles after each
	// one, up to an hour (default 30s).
	Backoff time.Duration
	// Poll is how often the outbox is looked at when idle (default 5s).
	Poll time.Duration
	// Now, when set, is the clock (tests).
	Now func() time.Time

	wake    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	lastErr error // the last delivery's outcome on this instance
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return db.Now()
}

func (s *Sender) maxAttempts() int {
	if s.MaxAttempts > 0 {
		return s.MaxAttempts
	}
	return 8
}

// lease is how long a claim holds: longer than one delivery can take.
func (s *Sender) lease() time.Duration { return 2*s.Mail.timeout() + time.Minute }

func (s *Sender) backoff(attempts int) time.Duration {
	b := s.Backoff
	if b <= 0 {
		b = 30 * time.Second
	}
	for i := 1; i < attempts && b < time.Hour; i++ {
		b *= 2
	}
	return min(b, time.Hour)
}

func (s *Sender) init() {
	s.once.Do(func() { s.wake = make(chan struct{}, 1) })
}

// Wake makes Run look at the outbox now (after an enqueue).
func (s *Sender) Wake() {
	if s == nil {
		return
	}
	s.init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	s.init()
	poll := s.Poll
	if poll <= 0 {
		poll = 5 * time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := s.RunOnce(ctx); err != nil && ctx.Err() == nil && s.Log != nil {
			s.Log.WarnContext(ctx, "mail outbox", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// RunOnce claims and delivers the messages due now; it returns how many
// were sent.
func (s *Sender) RunOnce(ctx context.Context) (int, error) {
	now := s.now()
	ids, err := db.QueryAll(ctx, s.DB, "SELECT id FROM mail_outbox WHERE (status = ? AND next_at <= ?) OR (status = ? AND next_at <= ?) ORDER BY id LIMIT 50", db.Value[int64],
		MailPending, now, MailSending, now)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		ok, err := s.deliver(ctx, id)
		if err != nil {
			return sent, err
		}
		if ok {
			sent++
		}
	}
	return sent, nil
}

// deliver claims message id (a conditional update: a sending claim whose
// lease ran out counts as due) and sends it. It reports whether this call
// sent it.
func (s *Sender) deliver(ctx context.Context, id int64) (bool, error) {
	token := newToken()
	now := s.now()
	res, err := s.DB.Exec(ctx, `UPDATE mail_outbox SET status = ?, claim = ?, next_at = ?, attempts = attempts + 1
		WHERE id = ? AND status IN (?, ?) AND next_at <= ?`, MailSending, token, now.Add(s.lease()), id, MailPending, MailSending, now)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil // another instance has it
	}
	var m Mail
	var to string
	var attempts int
	if err := s.DB.QueryRow(ctx, "SELECT recipients, subject, body, kind, attempts FROM mail_outbox WHERE id = ?", id).Scan(&to, &m.Subject, &m.Body, &m.Kind, &attempts); err != nil {
		return false, err
	}
	json.Unmarshal([]byte(to), &m.To)
	sendErr := s.Mail.Send(ctx, m.To, m.Subject, m.Body)
	s.mu.Lock()
	s.lastErr = sendErr
	s.mu.Unlock()
	if sendErr == nil {
		_, err := s.DB.Exec(ctx, "UPDATE mail_outbox SET status = ?, sent_at = ?, last_error = '' WHERE id = ? AND claim = ?", MailSent, s.now(), id, token)
		return err == nil, err
	}
	status, next := MailPending, s.now().Add(s.backoff(attempts))
	if attempts >= s.maxAttempts() {
		status = MailFailed
		if s.Log != nil {
			s.Log.ErrorContext(ctx, "e-mail given up", "outbox_id", id, "kind", m.Kind, "attempts", attempts, "err", sendErr)
		}
	} else if s.Log != nil {
		s.Log.WarnContext(ctx, "e-mail not delivered; will retry", "outbox_id", id, "kind", m.Kind, "attempts", attempts, "retry_at", next, "err", sendErr)
	}
	msg := sendErr.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	_, err = s.DB.Exec(ctx, "UPDATE mail_outbox SET status = ?, next_at = ?, last_error = ? WHERE id = ? AND claim = ?", status, next, msg, id, token)
	return false, err
}

// Health is the last delivery's failure on this instance (nil after a
// success, or before any delivery).
func (s *Sender) Health() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastErr != nil {
		return fmt.Errorf("last e-mail delivery failed: %w", s.lastErr)
	}
	return nil
}

// Counts is how many messages wait (pending, or being sent) and how many
// were given up.
func Counts(ctx context.Context, q *db.DB) (waiting, failed int64, err error) {
	err = q.QueryRow(ctx, "SELECT COALESCE(SUM(CASE WHEN status IN (?, ?) THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0) FROM mail_outbox",
		MailPending, MailSending, MailFailed).Scan(&waiting, &failed)
	return waiting, failed, err
}

func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Mailer sends e-mail through an SMTP server.
type Mailer struct {
	Addr, From, User, Password string
	// Timeout bounds one delivery, dial included (default 30s).
	Timeout time.Duration
}

func (m *Mailer) timeout() time.Duration {
	if m.Timeout > 0 {
		return m.Timeout
	}
	return 30 * time.Second
}

// errHang names a server that did not answer in time.
var errHang = errors.New("the mail server did not answer in time")

// Send delivers one message (UTF-8, base64 subject) within the Mailer's
// timeout: the dial, STARTTLS when offered, PLAIN auth when a user is set.
func (m *Mailer) Send(ctx context.Context, to []string, subject, body string) error {
	ctx, cancel := context.WithTimeout(ctx, m.timeout())
	defer cancel()
	deadline, _ := ctx.Deadline()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	err = m.converse(conn, to, subject, body)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w (%s): %w", errHang, m.timeout(), err)
	}
	return err
}

func (m *Mailer) converse(conn net.Conn, to []string, subject, body string) error {
	host, _, _ := net.SplitHostPort(m.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return err
		}
	}
	if m.User != "" {
		if err := c.Auth(smtp.PlainAuth("", m.User, m.Password, host)); err != nil {
			return err
		}
	}
	if err := c.Mail(m.From); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	msg := "From: " + m.From + "\r\nTo: " + strings.Join(to, ", ") + "\r\nSubject: =?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(subject)) + "?=\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" + body + "\r\n"
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

package server_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// The audit is part of the read: when the event cannot be written (here a
// trigger makes every insert into the log fail, as a full disk or a lost
// connection would), shared data is refused with a 503 in words and no
// row leaves the server; once the log takes events again, the read works
// and is in the log.
func TestReadRefusedWhenAuditCannotBeWritten(t *testing.T) {
	e := sqliteEnv(t)
	ctx := context.Background()
	staff := e.login("jt_staff", "transport-pass-1")
	admin := e.login("admin", "bureau-secret-1")
	other := e.login("wj_staff", "health-pass-123")
	id := e.entryWithData(staff, admin, "A-U", "unconditional", "unconditional")
	purpose := url.QueryEscape("核对低保对象住址")
	paths := []string{
		fmt.Sprintf("/api/v1/share/resources/%d/data?purpose=%s", id, purpose),
		fmt.Sprintf("/api/v1/resources/%d/records?purpose=%s", id, purpose),
	}
	if _, err := e.app.DB.Exec(ctx, "CREATE TRIGGER audit_broken BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		r := e.do("GET", p, other, nil, map[string]string{"Accept-Language": "en"})
		if r.status != 503 || !strings.Contains(string(r.body), "could not be written to the audit log") ||
			strings.Contains(string(r.body), "舞阳坝") || strings.Contains(string(r.body), "11010519491231002X") || strings.Contains(string(r.body), "disk I/O") {
			t.Fatalf("%s with the audit down: %d %s", p, r.status, r.body)
		}
	}
	e.app.DB.Exec(ctx, "DROP TRIGGER audit_broken")
	for _, p := range paths {
		if r := e.do("GET", p, other, nil, nil); r.status != 200 || !strings.Contains(string(r.body), "11010519491231002X") {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
	}
	var n int
	e.app.DB.QueryRow(ctx, "SELECT COUNT(*) FROM audit_events WHERE action = 'share.read' AND resource_id = ?", id).Scan(&n)
	if n != 2 {
		t.Fatalf("%d reads audited", n)
	}
	if p, _, err := e.app.Audit.Verify(ctx); p != nil || err != nil {
		t.Fatalf("chain: %v %v", p, err)
	}
}

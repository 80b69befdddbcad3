package auth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"opendata/auth"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
	"opendata/ratelimit"
	"opendata/ratelimit/ratelimittest"
)

func TestPasswordHashing(t *testing.T) {
	h, err := auth.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := auth.HashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") || h == h2 || strings.Contains(h, "horse") {
		t.Fatalf("hash %q (second %q): want salted argon2id in PHC form", h, h2)
	}
	cases := []struct {
		hash, pw string
		ok       bool
	}{
		{h, "correct horse battery", true},
		{h, "correct horse batterx", false},
		{h, "", false},
		{"", "correct horse battery", false},
		{"$bcrypt$x$y$z$w", "correct horse battery", false},
		{strings.Replace(h, "argon2id", "argon2i", 1), "correct horse battery", false},
		{h[:len(h)-4], "correct horse battery", false},
	}
	for i, c := range cases {
		if got := auth.CheckPassword(c.hash, c.pw); got != c.ok {
			t.Errorf("case %d: CheckPassword = %v, want %v", i, got, c.ok)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	cases := []struct {
		user, pw, want string
	}{
		{"jt_staff", "transport-pass-1", ""},
		{"li@example.cn", "公交站点数据分析2024", ""},
		{"jt_staff", "short-1", auth.MsgPasswordShort},
		{"jt_staff", "aaaaaaaaaa", auth.MsgPasswordRepeated},
		{"jt_staff", "abababababab", auth.MsgPasswordRepeated},
		{"jt_staff", "AAAAAaaaaa", auth.MsgPasswordRepeated},
		{"zhangsan", "zhangsan", auth.MsgPasswordShort},
		{"zhangsan01", "zhangsan01", auth.MsgPasswordUsername},
		{"zhangsan", "ZhangSan-2024", auth.MsgPasswordUsername},
		{"wang.wei@example.cn", "wang.wei-secret", auth.MsgPasswordUsername},
		{"dev@example.cn", "developer-pass-1", ""}, // a 3-letter name only as the whole password
		{"jt_staff", "1234567890", auth.MsgPasswordCommon},
		{"jt_staff", "qwertyuiop", auth.MsgPasswordCommon},
		{"jt_staff", "Password2024!", auth.MsgPasswordCommon},
		{"jt_staff", "woaini1314520", auth.MsgPasswordCommon},
		{"jt_staff", "iloveyou!!", auth.MsgPasswordCommon},
		{"jt_staff", strings.Repeat("ab1", 43), auth.MsgPasswordLong},
		{"jt_staff", strings.Repeat("数据", 65), auth.MsgPasswordLong},
		{"jt_staff", strings.Repeat("x1y", 10000), auth.MsgPasswordLong},
	}
	for _, c := range cases {
		err := auth.ValidatePassword(c.user, c.pw)
		var fe errs.FieldErrors
		got := ""
		if errors.As(err, &fe) {
			got = fe["password"]
		} else if err != nil {
			t.Fatalf("%q: not a field error: %v", c.pw, err)
		}
		if got != c.want {
			t.Errorf("ValidatePassword(%q, %.20q) = %q, want %q", c.user, c.pw, got, c.want)
		}
	}
	if !auth.PasswordTooLong(strings.Repeat("x", auth.MaxPasswordBytes+1)) || auth.PasswordTooLong(strings.Repeat("数", auth.MaxPasswordChars)) {
		t.Error("PasswordTooLong")
	}
}

func TestRoles(t *testing.T) {
	for _, r := range auth.Roles {
		if !r.Valid() {
			t.Errorf("%s not valid", r)
		}
	}
	if auth.Role("root").Valid() || auth.RoleDeveloper.IsStaff() || !auth.RoleOffice.IsStaff() {
		t.Error("Valid/IsStaff")
	}
	if !auth.RoleDeptStaff.NeedsDepartment() || !auth.RoleDeptAdmin.NeedsDepartment() || auth.RoleBureauAdmin.NeedsDepartment() {
		t.Error("NeedsDepartment")
	}
	staff := auth.Actor{ID: 1, Role: auth.RoleDeptStaff, DepartmentID: 7}
	office := auth.Actor{ID: 2, Role: auth.RoleOffice}
	if !staff.CanEditDepartment(7) || staff.CanEditDepartment(8) || office.CanEditDepartment(7) || !auth.System.CanEditDepartment(8) {
		t.Error("CanEditDepartment")
	}
}

// TestMayCreate is who creates which accounts: a department admin cannot
// create a second admin (who would approve their own submission).
func TestMayCreate(t *testing.T) {
	bureau := auth.Actor{ID: 1, Role: auth.RoleBureauAdmin}
	deptAdmin := auth.Actor{ID: 2, Role: auth.RoleDeptAdmin, DepartmentID: 7}
	staff := auth.Actor{ID: 3, Role: auth.RoleDeptStaff, DepartmentID: 7}
	office := auth.Actor{ID: 4, Role: auth.RoleOffice}
	dev := auth.Actor{ID: 5, Role: auth.RoleDeveloper}
	cases := []struct {
		by   auth.Actor
		role auth.Role
		dept int64
		ok   bool
	}{
		{bureau, auth.RoleDeptAdmin, 7, true},
		{bureau, auth.RoleDeptStaff, 8, true},
		{bureau, auth.RoleBureauAdmin, 0, true},
		{bureau, auth.RoleOffice, 0, true},
		{auth.System, auth.RoleDeptAdmin, 7, true},
		{deptAdmin, auth.RoleDeptStaff, 7, true},
		{deptAdmin, auth.RoleDeptAdmin, 7, false},
		{deptAdmin, auth.RoleDeptStaff, 8, false},
		{deptAdmin, auth.RoleBureauAdmin, 0, false},
		{deptAdmin, auth.RoleOffice, 0, false},
		{deptAdmin, auth.RoleDeveloper, 0, false},
		{staff, auth.RoleDeptStaff, 7, false},
		{office, auth.RoleDeptStaff, 7, false},
		{dev, auth.RoleDeveloper, 0, false},
	}
	for _, c := range cases {
		err := auth.MayCreate(c.by, c.role, c.dept)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, errs.Forbidden)) {
			t.Errorf("%s creates %s of %d: %v, want ok=%v", c.by.Role, c.role, c.dept, err, c.ok)
		}
	}
}

func newStore(t *testing.T, d *db.DB) (*auth.Store, *ratelimit.Limits) {
	t.Helper()
	l := ratelimit.NewMemory("test:")
	perIP, _ := ratelimit.ParseTier("1000-M", 0)
	return &auth.Store{DB: d, Hasher: auth.NewHasher(4, 16, 5*time.Second),
		Throttle: &auth.Throttle{Limits: l, PerIP: perIP, MaxFailures: 3, Window: time.Hour, Lockout: 2 * time.Second, MaxLockout: time.Hour}}, l
}

func login(s *auth.Store, name, pw string) (string, error) {
	tok, _, err := s.Login(context.Background(), auth.LoginAttempt{Username: name, Password: pw, IP: "192.0.2.1"}, time.Hour)
	return tok, err
}

func TestSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _ := newStore(t, d)
		u, err := s.CreateUser(ctx, auth.NewUser{Username: "jt_staff", Password: "transport-pass-1", Role: auth.RoleDeptStaff, DepartmentID: 0})
		if err == nil {
			t.Fatal("a department role without a department was created")
		}
		d.Exec(ctx, "INSERT INTO departments (code, name, kind, created_at) VALUES ('JTJ', '交通', 'department', ?)", db.Now())
		u, err = s.CreateUser(ctx, auth.NewUser{Username: "jt_staff", Password: "transport-pass-1", Role: auth.RoleDeptStaff, DepartmentID: 1, Email: "Li.Si@example.cn"})
		if err != nil {
			t.Fatal(err)
		}
		var fe errs.FieldErrors
		if _, err := s.CreateUser(ctx, auth.NewUser{Username: "jt_staff", Password: "another-pass-1", Role: auth.RoleOffice}); !errors.As(err, &fe) || fe["username"] != auth.MsgUsernameTaken {
			t.Fatalf("duplicate username: %v", err)
		}
		if _, err := s.CreateUser(ctx, auth.NewUser{Username: "weak_one", Password: "aaaaaaaaaaaa", Role: auth.RoleOffice}); !errors.As(err, &fe) || fe["password"] != auth.MsgPasswordRepeated {
			t.Fatalf("weak password on create: %v", err)
		}

		tok, err := login(s, "jt_staff", "transport-pass-1")
		if err != nil || !strings.HasPrefix(tok, "ods_") {
			t.Fatalf("login: %q %v", tok, err)
		}
		var stored int
		d.QueryRow(ctx, "SELECT COUNT(*) FROM sessions WHERE token_hash = ?", tok).Scan(&stored)
		if stored != 0 {
			t.Fatal("the session token is stored in the clear")
		}
		if got, err := s.Session(ctx, tok); err != nil || got.ID != u.ID || got.Role != auth.RoleDeptStaff {
			t.Fatalf("session: %+v %v", got, err)
		}
		// The e-mail address signs in too, in any case; a wrong password does not.
		if _, err := login(s, "li.si@EXAMPLE.cn", "transport-pass-1"); err != nil {
			t.Fatalf("login by e-mail: %v", err)
		}
		if _, err := login(s, "jt_staff", "transport-pass-2"); !errors.Is(err, auth.ErrBadLogin) || !errors.Is(err, errs.Unauthenticated) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := login(s, "nobody", "transport-pass-1"); !errors.Is(err, auth.ErrBadLogin) {
			t.Fatalf("unknown user: %v", err)
		}
		// An address two accounts share names neither.
		if _, err := s.CreateUser(ctx, auth.NewUser{Username: "office2", Password: "supervise-pass-1", Role: auth.RoleOffice, Email: "li.si@example.cn"}); err != nil {
			t.Fatal(err)
		}
		if _, err := login(s, "li.si@example.cn", "transport-pass-1"); !errors.Is(err, auth.ErrBadLogin) {
			t.Fatalf("ambiguous e-mail: %v", err)
		}

		if err := s.Logout(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, tok); !errors.Is(err, errs.Unauthenticated) {
			t.Fatalf("session after logout: %v", err)
		}
		// Expiry.
		short, _, err := s.Login(ctx, auth.LoginAttempt{Username: "jt_staff", Password: "transport-pass-1"}, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		if _, err := s.Session(ctx, short); !errors.Is(err, errs.Unauthenticated) {
			t.Fatalf("expired session: %v", err)
		}
		// A new password (under the policy) ends every session.
		tok, _ = login(s, "jt_staff", "transport-pass-1")
		if err := s.SetPassword(ctx, u.ID, "jt_staff-2024x"); !errors.As(err, &fe) || fe["password"] != auth.MsgPasswordUsername {
			t.Fatalf("weak new password: %v", err)
		}
		if _, err := s.Session(ctx, tok); err != nil {
			t.Fatalf("a refused password change ended the session: %v", err)
		}
		if err := s.SetPassword(ctx, u.ID, "new-transport-pass"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, tok); err == nil {
			t.Fatal("session survived a password change")
		}
		if _, err := login(s, "jt_staff", "transport-pass-1"); err == nil {
			t.Fatal("old password still works")
		}
		// Disabling ends sessions; a disabled account is told so only when
		// the password is right.
		tok, err = login(s, "jt_staff", "new-transport-pass")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetActive(ctx, u.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, tok); err == nil {
			t.Fatal("session survived disabling")
		}
		if _, err := login(s, "jt_staff", "new-transport-pass"); !errors.Is(err, auth.ErrInactive) || !errors.Is(err, errs.Forbidden) {
			t.Fatalf("inactive, right password: %v", err)
		}
		if _, err := login(s, "jt_staff", "wrong-transport-pass"); !errors.Is(err, auth.ErrBadLogin) {
			t.Fatalf("inactive, wrong password: %v", err)
		}
		if err := s.SetPassword(ctx, 999, "another-pass-1"); !errors.Is(err, errs.NotFound) {
			t.Fatalf("unknown user: %v", err)
		}
	})
}

// TestLockout: MaxFailures wrong passwords lock the account, the right
// password is refused while it lasts, the user is told once, each further
// lockout lasts twice as long, and names without an account lock alike.
func TestLockout(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _ := newStore(t, d)
		var mu sync.Mutex
		var notices []auth.LockNotice
		s.OnLock = func(_ context.Context, u auth.User, n auth.LockNotice) {
			mu.Lock()
			notices = append(notices, n)
			mu.Unlock()
		}
		if _, err := s.CreateUser(ctx, auth.NewUser{Username: "admin", Password: "bureau-secret-1", Role: auth.RoleBureauAdmin}); err != nil {
			t.Fatal(err)
		}
		lockFor := func(name string) time.Duration {
			t.Helper()
			var err error
			for i := 0; i < 3; i++ {
				_, err = login(s, name, "guess-number-"+string(rune('a'+i)))
			}
			var pub *errs.Public
			if !errors.As(err, &pub) || pub.Code != "account_locked" || !errors.Is(err, errs.RateLimited) || pub.RetryAfter <= 0 {
				t.Fatalf("third failure of %s: %v", name, err)
			}
			if _, err := login(s, name, "bureau-secret-1"); !errors.As(err, &pub) || pub.Code != "account_locked" {
				t.Fatalf("right password while locked: %v", err)
			}
			return pub.RetryAfter
		}
		first := lockFor("admin")
		if first > 3*time.Second {
			t.Fatalf("first lockout %v, want about 2s", first)
		}
		if len(notices) != 1 || notices[0].IP != "192.0.2.1" || notices[0].Failures != 3 {
			t.Fatalf("notices %+v", notices)
		}
		time.Sleep(first + 100*time.Millisecond)
		if _, err := login(s, "admin", "bureau-secret-1"); err != nil {
			t.Fatalf("after the lockout: %v", err)
		}
		// Success ended the run: two failures do not lock.
		login(s, "admin", "guess-1")
		login(s, "admin", "guess-2")
		if _, err := login(s, "admin", "bureau-secret-1"); err != nil {
			t.Fatalf("two failures locked: %v", err)
		}
		second := lockFor("admin")
		if second <= first || second > 5*time.Second {
			t.Fatalf("second lockout %v after a first of %v: want it doubled", second, first)
		}
		// A name without an account locks alike (a lock tells nothing) and
		// nobody is notified.
		lockFor("ghost")
		if len(notices) != 2 {
			t.Fatalf("notices %+v", notices)
		}
	})
}

// TestLoginThrottlePerAddress: one address's attempts are limited whatever
// the accounts they try.
func TestLoginThrottlePerAddress(t *testing.T) {
	s, _ := newStore(t, dbtest.SQLite(t))
	s.Throttle.PerIP, _ = ratelimit.ParseTier("3-M", 0)
	for i, name := range []string{"a", "b", "c", "d"} {
		_, _, err := s.Login(context.Background(), auth.LoginAttempt{Username: name, Password: "whatever-pass", IP: "198.51.100.7"}, time.Hour)
		var pub *errs.Public
		throttled := errors.As(err, &pub) && pub.Code == "login_throttled" && pub.RetryAfter > 0
		if throttled != (i == 3) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if _, _, err := s.Login(context.Background(), auth.LoginAttempt{Username: "a", Password: "whatever-pass", IP: "198.51.100.8"}, time.Hour); !errors.Is(err, auth.ErrBadLogin) {
		t.Fatalf("another address: %v", err)
	}
}

// TestLockoutSharedByInstances: two stores on one Redis (two instances)
// count one account's failures together.
func TestLockoutSharedByInstances(t *testing.T) {
	url := ratelimittest.RedisURL(t)
	d := dbtest.SQLite(t)
	prefix := "test:lock:" + time.Now().Format("150405.000000")
	var stores []*auth.Store
	for i := 0; i < 2; i++ {
		l, err := ratelimit.NewRedis(context.Background(), url, prefix)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := newStore(t, d)
		s.Throttle.Limits = l
		stores = append(stores, s)
	}
	if _, err := stores[0].CreateUser(context.Background(), auth.NewUser{Username: "admin", Password: "bureau-secret-1", Role: auth.RoleBureauAdmin}); err != nil {
		t.Fatal(err)
	}
	login(stores[0], "admin", "guess-1")
	login(stores[1], "admin", "guess-2")
	if _, err := login(stores[0], "admin", "guess-3"); err == nil || !strings.Contains(err.Error(), "account_locked") {
		t.Fatalf("third failure across instances: %v", err)
	}
	if _, err := login(stores[1], "admin", "bureau-secret-1"); err == nil || !strings.Contains(err.Error(), "account_locked") {
		t.Fatalf("the other instance lets a locked account in: %v", err)
	}
}

// TestHasherBounds: at most Slots hashes run at once, at most Queue
// callers wait, each at most Wait; the rest get ErrBusy at once.
func TestHasherBounds(t *testing.T) {
	h := auth.NewHasher(2, 3, 300*time.Millisecond)
	var running, peak atomic.Int64
	release := make(chan struct{})
	work := func() {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		running.Add(-1)
	}
	var wg sync.WaitGroup
	var busy atomic.Int64
	errsc := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.Do(context.Background(), work); err != nil {
				if errors.Is(err, auth.ErrBusy) {
					busy.Add(1)
				}
				errsc <- err
			}
		}()
	}
	// 2 running, 3 waiting, 15 refused at once; then the waiters' time
	// runs out. (Polled: a loaded machine starts goroutines late.)
	waitFor := func(want int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); busy.Load() < want && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(15)
	if b := busy.Load(); b < 15 || peak.Load() != 2 {
		t.Fatalf("busy %d, peak %d", b, peak.Load())
	}
	waitFor(18)
	if busy.Load() != 18 {
		t.Fatalf("after the wait: busy %d", busy.Load())
	}
	close(release)
	wg.Wait()
	if peak.Load() != 2 {
		t.Fatalf("peak %d", peak.Load())
	}
	var pub *errs.Public
	if err := <-errsc; !errors.As(err, &pub) || pub.RetryAfter <= 0 || !errors.Is(err, errs.Unavailable) {
		t.Fatalf("busy error: %v", err)
	}
	// A queued caller gets the slot when one frees.
	h2 := auth.NewHasher(1, 1, 2*time.Second)
	hold := make(chan struct{})
	go h2.Do(context.Background(), func() { <-hold })
	time.Sleep(20 * time.Millisecond)
	go func() { time.Sleep(50 * time.Millisecond); close(hold) }()
	if err := h2.Do(context.Background(), func() {}); err != nil {
		t.Fatalf("queued caller: %v", err)
	}
}

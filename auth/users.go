package auth

import (
	"context"
	"database/sql"
	"errors"
	"runtime"
	"strings"
	"sync"
	"time"

	"opendata/db"
	"opendata/errs"
)

// Role is a staff member's role.
type Role string

const (
	RoleDeptStaff   Role = "dept_staff"   // 部门工作人员
	RoleDeptAdmin   Role = "dept_admin"   // 部门管理员
	RoleBureauAdmin Role = "bureau_admin" // 大数据局管理员
	RoleOffice      Role = "office"       // 领导小组办公室
	// RoleDeveloper is a public account (公众/开发者): API keys and
	// applications for on-application data; no staff rights at all.
	RoleDeveloper Role = "developer"
)

// Roles lists every role.
var Roles = []Role{RoleDeptStaff, RoleDeptAdmin, RoleBureauAdmin, RoleOffice, RoleDeveloper}

// IsStaff reports whether the role is a government one.
func (r Role) IsStaff() bool { return r.Valid() && r != RoleDeveloper }

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if x == r {
			return true
		}
	}
	return false
}

// NeedsDepartment reports whether the role belongs to a department.
func (r Role) NeedsDepartment() bool { return r == RoleDeptStaff || r == RoleDeptAdmin }

// User is a staff account.
type User struct {
	ID           int64     `json:"id"`
	Username     string    `json:"username"`
	DisplayName  string    `json:"display_name"`
	Role         Role      `json:"role"`
	DepartmentID int64     `json:"department_id,omitempty"`
	Active       bool      `json:"active"`
	CreatedAt    time.Time `json:"created_at"`
	Email        string    `json:"email,omitempty"`
	Organisation string    `json:"organisation,omitempty"`
	Verified     bool      `json:"email_verified"`
}

// Actor is who performs an action: a logged-in user, or the system (CLI,
// demo loader) when ID is 0.
type Actor struct {
	ID           int64
	Name         string
	Role         Role
	DepartmentID int64
}

// System is the actor for headless operations run by an operator.
var System = Actor{Name: "system", Role: RoleBureauAdmin}

// Actor returns the user as an actor.
func (u User) Actor() Actor {
	return Actor{ID: u.ID, Name: u.Username, Role: u.Role, DepartmentID: u.DepartmentID}
}

// IsBureau reports whether the actor administers the whole platform.
func (a Actor) IsBureau() bool { return a.Role == RoleBureauAdmin }

// CanEditDepartment reports whether the actor may change the catalog of dept.
func (a Actor) CanEditDepartment(dept int64) bool {
	if a.IsBureau() {
		return true
	}
	return (a.Role == RoleDeptStaff || a.Role == RoleDeptAdmin) && a.DepartmentID == dept
}

// Store keeps users and sessions.
type Store struct {
	DB *db.DB
	// Hasher bounds concurrent password hashes (nil: one slot per CPU).
	Hasher *Hasher
	// Throttle limits login attempts (nil: none, as for the CLI).
	Throttle *Throttle
	// OnLock tells a user their account was locked (in-app and e-mail).
	OnLock func(ctx context.Context, u User, n LockNotice)

	hasherOnce sync.Once
}

// LockNotice is what the locked user is told.
type LockNotice struct {
	Until    time.Time
	IP       string
	Failures int
}

func (s *Store) hasher() *Hasher {
	s.hasherOnce.Do(func() {
		if s.Hasher == nil {
			s.Hasher = NewHasher(runtime.NumCPU(), 8*runtime.NumCPU(), 5*time.Second)
		}
	})
	return s.Hasher
}

// NewUser is the input for CreateUser.
type NewUser struct {
	Username     string `json:"username"`
	DisplayName  string `json:"display_name"`
	Password     string `json:"password"`
	Role         Role   `json:"role"`
	DepartmentID int64  `json:"department_id"`
	Email        string `json:"email"`
	Organisation string `json:"organisation"`
	// Inactive creates the account disabled (a sign-up awaiting e-mail
	// verification or the bureau's activation).
	Inactive bool `json:"-"`
}

func (n NewUser) validate() error {
	fe := errs.FieldErrors{}
	if n.Role == RoleDeveloper {
		// A developer logs in with their e-mail address.
		if !ValidEmail(n.Username) {
			fe["username"] = "auth.username.email"
		}
	} else if l := len(n.Username); l < 3 || l > 64 || strings.ContainsAny(n.Username, " /\\:@\t\n") {
		fe["username"] = "auth.username.invalid"
	}
	if err := ValidatePassword(n.Username, n.Password); err != nil {
		fe["password"] = err.(errs.FieldErrors)["password"]
	}
	if !n.Role.Valid() {
		fe["role"] = "auth.role.invalid"
	}
	if n.Email != "" && !ValidEmail(n.Email) {
		fe["email"] = "auth.email.invalid"
	}
	if n.Role.NeedsDepartment() && n.DepartmentID == 0 {
		fe["department_id"] = "auth.department.required"
	}
	return fe.Err()
}

// MayCreate is who creates which accounts. The bureau creates any account:
// every staff role, department admins included. A department admin creates
// staff (dept_staff) of their own department only — never another admin,
// so no one person holds two approving accounts and approves their own
// submission (four eyes). Nobody else creates accounts; developers sign up.
func MayCreate(by Actor, role Role, dept int64) error {
	switch {
	case by.IsBureau():
		return nil
	case by.Role == RoleDeptAdmin && role == RoleDeptStaff && dept == by.DepartmentID:
		return nil
	case by.Role == RoleDeptAdmin:
		return &errs.Public{Kind: errs.Forbidden, Code: "forbidden", Key: "auth.create.dept_admin"}
	}
	return &errs.Public{Kind: errs.Forbidden, Code: "forbidden", Key: "auth.create.nobody"}
}

// CreateUserBy is CreateUser on behalf of by, who must be allowed to (MayCreate).
func (s *Store) CreateUserBy(ctx context.Context, by Actor, n NewUser) (User, error) {
	if err := MayCreate(by, n.Role, n.DepartmentID); err != nil {
		return User{}, err
	}
	return s.CreateUser(ctx, n)
}

// CreateUser adds an account with an argon2id password hash.
func (s *Store) CreateUser(ctx context.Context, n NewUser) (User, error) {
	return s.CreateUserAnd(ctx, n, nil)
}

// CreateUserAnd is CreateUser with also run in the account's transaction
// (given the new id): an audit event or a token that commits with the
// account or not at all.
func (s *Store) CreateUserAnd(ctx context.Context, n NewUser, also func(q db.Querier, id int64) error) (u User, err error) {
	defer errs.Wrap(&err, "create user %q", n.Username)
	if err := n.validate(); err != nil {
		return User{}, err
	}
	hash, err := s.hasher().Hash(ctx, n.Password)
	if err != nil {
		return User{}, err
	}
	now := db.Now()
	var dept any
	if n.DepartmentID != 0 {
		dept = n.DepartmentID
	}
	active := 1
	if n.Inactive {
		active = 0
	}
	var id int64
	err = s.DB.Tx(ctx, func(q db.Querier) error {
		var err error
		id, err = q.InsertID(ctx, `INSERT INTO users (username, display_name, password_hash, role, department_id, active, email, organisation, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, n.Username, n.DisplayName, hash, string(n.Role), dept, active, n.Email, n.Organisation, now, now)
		if err != nil || also == nil {
			return err
		}
		return also(q, id)
	})
	if err != nil {
		if errors.Is(err, errs.Conflict) {
			return User{}, errs.FieldErrors{"username": MsgUsernameTaken}
		}
		return User{}, err
	}
	return s.GetUser(ctx, id)
}

// MsgUsernameTaken is the field error of a name already in use.
const MsgUsernameTaken = "auth.username.taken"

const userCols = "id, username, display_name, role, department_id, active, created_at, email, organisation, email_verified"

func scanUser(row db.Scanner) (User, error) {
	var u User
	var dept sql.NullInt64
	var active, verified int
	if err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &dept, &active, &u.CreatedAt, &u.Email, &u.Organisation, &verified); err != nil {
		return User{}, db.MapErr(err)
	}
	u.DepartmentID, u.Active, u.Verified = dept.Int64, active == 1, verified == 1
	return u, nil
}

// ValidEmail is a plain syntax check (the verification mail is the real one).
func ValidEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && len(s) <= 254 && strings.Contains(domain, ".") && !strings.ContainsAny(s, " \t\r\n<>,;\"") &&
		!strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// GetUser returns a user by id.
func (s *Store) GetUser(ctx context.Context, id int64) (User, error) {
	return scanUser(s.DB.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", id))
}

// GetUserByName returns a user by username.
func (s *Store) GetUserByName(ctx context.Context, name string) (User, error) {
	return scanUser(s.DB.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE username = ?", name))
}

// ListUsers lists users, of one department when dept != 0.
func (s *Store) ListUsers(ctx context.Context, dept int64) ([]User, error) {
	q, args := "SELECT "+userCols+" FROM users", []any{}
	if dept != 0 {
		q, args = q+" WHERE department_id = ?", append(args, dept)
	}
	return s.listUsers(ctx, q, args...)
}

// ListByRole lists the accounts of one role (developers for the bureau).
func (s *Store) ListByRole(ctx context.Context, role Role) ([]User, error) {
	return s.listUsers(ctx, "SELECT "+userCols+" FROM users WHERE role = ?", string(role))
}

func (s *Store) listUsers(ctx context.Context, q string, args ...any) ([]User, error) {
	return db.QueryAll(ctx, s.DB, q+" ORDER BY id", scanUser, args...)
}

// SetPassword replaces a user's password (under the policy) and ends
// their sessions.
func (s *Store) SetPassword(ctx context.Context, id int64, pw string) error {
	u, err := s.GetUser(ctx, id)
	if err != nil {
		return err
	}
	if err := ValidatePassword(u.Username, pw); err != nil {
		return err
	}
	hash, err := s.hasher().Hash(ctx, pw)
	if err != nil {
		return err
	}
	return s.DB.Tx(ctx, func(q db.Querier) error {
		res, err := q.Exec(ctx, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", hash, db.Now(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.NotFoundf("err.user_not_found", "id", id)
		}
		_, err = q.Exec(ctx, "DELETE FROM sessions WHERE user_id = ?", id)
		return err
	})
}

// SetActive enables or disables an account; disabling ends its sessions.
func (s *Store) SetActive(ctx context.Context, id int64, active bool) error {
	return s.SetActiveAnd(ctx, id, active, nil)
}

// SetActiveAnd is SetActive with also run in its transaction.
func (s *Store) SetActiveAnd(ctx context.Context, id int64, active bool, also func(q db.Querier) error) error {
	v := 0
	if active {
		v = 1
	}
	return s.DB.Tx(ctx, func(q db.Querier) error {
		res, err := q.Exec(ctx, "UPDATE users SET active = ?, updated_at = ? WHERE id = ?", v, db.Now(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.NotFoundf("err.user_not_found", "id", id)
		}
		if !active {
			if _, err := q.Exec(ctx, "DELETE FROM sessions WHERE user_id = ?", id); err != nil {
				return err
			}
		}
		if also != nil {
			return also(q)
		}
		return nil
	})
}

// ErrBadLogin is returned for a wrong username or password alike.
var ErrBadLogin = &errs.Public{Kind: errs.Unauthenticated, Code: "bad_login", Key: "auth.bad_login"}

// ErrInactive answers the right password of an account that is not active:
// a sign-up awaiting e-mail verification or the bureau's activation, or a
// suspended account. It is only said to someone who knows the password.
var ErrInactive = &errs.Public{Kind: errs.Forbidden, Code: "account_inactive", Key: "auth.inactive"}

// LoginAttempt is one sign-in: a username or e-mail address, the password
// and the client's address (for the throttle).
type LoginAttempt struct {
	Username, Password, IP string
}

// Login checks the password and starts a session, returning its token.
// In order: the password's length cap, the throttle (the address's rate,
// the account's lockout), then one bounded argon2id check; a wrong password
// counts towards a lockout, whose notice goes to the user.
func (s *Store) Login(ctx context.Context, in LoginAttempt, ttl time.Duration) (string, User, error) {
	name := strings.TrimSpace(in.Username)
	if name == "" || len(name) > 254 || PasswordTooLong(in.Password) {
		return "", User{}, ErrBadLogin
	}
	id, hash, active, err := s.loginAccount(ctx, name)
	if err != nil {
		return "", User{}, err
	}
	account := accountKey(id, name)
	if err := s.Throttle.Admit(ctx, account, in.IP); err != nil {
		return "", User{}, err
	}
	if id == 0 {
		// Spend the same time as a real check so names can't be probed.
		hash = dummyHash()
	}
	ok, err := s.hasher().Check(ctx, hash, in.Password)
	if err != nil {
		return "", User{}, err
	}
	if !ok || id == 0 {
		if until, locked := s.Throttle.Failed(ctx, account); locked {
			if id != 0 && s.OnLock != nil {
				if u, err := s.GetUser(ctx, id); err == nil {
					s.OnLock(ctx, u, LockNotice{Until: until, IP: in.IP, Failures: s.Throttle.MaxFailures})
				}
			}
			return "", User{}, LockedError(until)
		}
		return "", User{}, ErrBadLogin
	}
	s.Throttle.Succeeded(ctx, account)
	if !active {
		return "", User{}, ErrInactive
	}
	token, th := NewToken("ods_")
	now := db.Now()
	if _, err := s.DB.Exec(ctx, "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)", th, id, now, now.Add(ttl)); err != nil {
		return "", User{}, err
	}
	u, err := s.GetUser(ctx, id)
	return token, u, err
}

// loginAccount finds the account a sign-in names: its username, or else
// (for a name with @) the one account whose username or e-mail it is, in
// any case. id is 0 when there is none (or the address is ambiguous).
func (s *Store) loginAccount(ctx context.Context, name string) (id int64, hash string, active bool, err error) {
	var a int
	err = s.DB.QueryRow(ctx, "SELECT id, password_hash, active FROM users WHERE username = ?", name).Scan(&id, &hash, &a)
	if err == nil {
		return id, hash, a == 1, nil
	}
	if !errors.Is(db.MapErr(err), errs.NotFound) {
		return 0, "", false, err
	}
	if !strings.Contains(name, "@") {
		return 0, "", false, nil
	}
	type match struct {
		id     int64
		hash   string
		active int
	}
	ms, err := db.QueryAll(ctx, s.DB, "SELECT id, password_hash, active FROM users WHERE lower(username) = ? OR lower(email) = ? LIMIT 2", func(r db.Scanner) (match, error) {
		var m match
		return m, r.Scan(&m.id, &m.hash, &m.active)
	}, strings.ToLower(name), strings.ToLower(name))
	if err != nil || len(ms) != 1 {
		return 0, "", false, err
	}
	return ms[0].id, ms[0].hash, ms[0].active == 1, nil
}

// dummyHash is checked for names without an account (computed once, on
// first use, so commands that never log in do not pay for it).
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("not a real password")
	return h
})

// Session resolves a session token to its active user.
func (s *Store) Session(ctx context.Context, token string) (User, error) {
	var uid int64
	var exp time.Time
	err := db.MapErr(s.DB.QueryRow(ctx, "SELECT user_id, expires_at FROM sessions WHERE token_hash = ?", HashToken(token)).Scan(&uid, &exp))
	if errors.Is(err, errs.NotFound) {
		return User{}, errs.Unauthenticatedf("err.session.none")
	}
	if err != nil {
		return User{}, err // the database is down: not a reason to log anyone out
	}
	if time.Now().After(exp) {
		s.DB.Exec(ctx, "DELETE FROM sessions WHERE token_hash = ?", HashToken(token))
		return User{}, errs.Unauthenticatedf("err.session.expired")
	}
	u, err := s.GetUser(ctx, uid)
	if err != nil {
		return User{}, err
	}
	if !u.Active {
		return User{}, errs.Unauthenticatedf("err.session.disabled")
	}
	return u, nil
}

// Logout ends a session.
func (s *Store) Logout(ctx context.Context, token string) error {
	_, err := s.DB.Exec(ctx, "DELETE FROM sessions WHERE token_hash = ?", HashToken(token))
	return err
}

package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

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
type Store struct{ DB *db.DB }

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
			fe["username"] = "a developer's username is their e-mail address"
		}
	} else if l := len(n.Username); l < 3 || l > 64 || strings.ContainsAny(n.Username, " /\\:@\t\n") {
		fe["username"] = "3–64 characters without spaces, slashes, colons or @"
	}
	if utf8.RuneCountInString(n.Password) < 10 {
		fe["password"] = "at least 10 characters"
	}
	if !n.Role.Valid() {
		fe["role"] = "one of dept_staff, dept_admin, bureau_admin, office, developer"
	}
	if n.Email != "" && !ValidEmail(n.Email) {
		fe["email"] = "not an e-mail address"
	}
	if n.Role.NeedsDepartment() && n.DepartmentID == 0 {
		fe["department_id"] = "required for department roles"
	}
	return fe.Err()
}

// CreateUser adds an account with an argon2id password hash.
func (s *Store) CreateUser(ctx context.Context, n NewUser) (u User, err error) {
	defer errs.Wrap(&err, "create user %q", n.Username)
	if err := n.validate(); err != nil {
		return User{}, err
	}
	hash, err := HashPassword(n.Password)
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
	id, err := s.DB.InsertID(ctx, `INSERT INTO users (username, display_name, password_hash, role, department_id, active, email, organisation, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, n.Username, n.DisplayName, hash, string(n.Role), dept, active, n.Email, n.Organisation, now, now)
	if err != nil {
		if errors.Is(err, errs.Conflict) {
			return User{}, errs.FieldErrors{"username": "already taken"}
		}
		return User{}, err
	}
	return s.GetUser(ctx, id)
}

const userCols = "id, username, display_name, role, department_id, active, created_at, email, organisation, email_verified"

func scanUser(row interface{ Scan(...any) error }) (User, error) {
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
	rows, err := s.DB.Query(ctx, q+" ORDER BY id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetPassword replaces a user's password and ends their sessions.
func (s *Store) SetPassword(ctx context.Context, id int64, pw string) error {
	if utf8.RuneCountInString(pw) < 10 {
		return errs.FieldErrors{"password": "at least 10 characters"}
	}
	hash, err := HashPassword(pw)
	if err != nil {
		return err
	}
	return s.DB.Tx(ctx, func(q db.Querier) error {
		res, err := q.Exec(ctx, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", hash, db.Now(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.NotFoundf("user %d", id)
		}
		_, err = q.Exec(ctx, "DELETE FROM sessions WHERE user_id = ?", id)
		return err
	})
}

// SetActive enables or disables an account; disabling ends its sessions.
func (s *Store) SetActive(ctx context.Context, id int64, active bool) error {
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
			return errs.NotFoundf("user %d", id)
		}
		if !active {
			_, err = q.Exec(ctx, "DELETE FROM sessions WHERE user_id = ?", id)
		}
		return err
	})
}

// ErrBadLogin is returned for a wrong username or password alike.
var ErrBadLogin = fmt.Errorf("%w: wrong username or password", errs.Unauthenticated)

// Login checks the password and starts a session, returning its token.
func (s *Store) Login(ctx context.Context, username, pw string, ttl time.Duration) (string, User, error) {
	var hash string
	var id int64
	var active int
	err := s.DB.QueryRow(ctx, "SELECT id, password_hash, active FROM users WHERE username = ?", username).Scan(&id, &hash, &active)
	if err != nil {
		if errors.Is(db.MapErr(err), errs.NotFound) {
			// Spend the same time as a real check so usernames can't be probed.
			CheckPassword(dummyHash, pw)
			return "", User{}, ErrBadLogin
		}
		return "", User{}, err
	}
	if !CheckPassword(hash, pw) || active != 1 {
		return "", User{}, ErrBadLogin
	}
	token, th := NewToken("ods_")
	now := db.Now()
	if _, err := s.DB.Exec(ctx, "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)", th, id, now, now.Add(ttl)); err != nil {
		return "", User{}, err
	}
	u, err := s.GetUser(ctx, id)
	return token, u, err
}

var dummyHash, _ = HashPassword("not a real password")

// Session resolves a session token to its active user.
func (s *Store) Session(ctx context.Context, token string) (User, error) {
	var uid int64
	var exp time.Time
	err := s.DB.QueryRow(ctx, "SELECT user_id, expires_at FROM sessions WHERE token_hash = ?", HashToken(token)).Scan(&uid, &exp)
	if err != nil {
		return User{}, fmt.Errorf("%w: no such session", errs.Unauthenticated)
	}
	if time.Now().After(exp) {
		s.DB.Exec(ctx, "DELETE FROM sessions WHERE token_hash = ?", HashToken(token))
		return User{}, fmt.Errorf("%w: session expired", errs.Unauthenticated)
	}
	u, err := s.GetUser(ctx, uid)
	if err != nil {
		return User{}, err
	}
	if !u.Active {
		return User{}, fmt.Errorf("%w: account disabled", errs.Unauthenticated)
	}
	return u, nil
}

// Logout ends a session.
func (s *Store) Logout(ctx context.Context, token string) error {
	_, err := s.DB.Exec(ctx, "DELETE FROM sessions WHERE token_hash = ?", HashToken(token))
	return err
}

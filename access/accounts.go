package access

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"opendata/auth"
	"opendata/db"
	"opendata/errs"
	"opendata/notify"
)

// SignUp is the public registration form.
type SignUp struct {
	Email        string `json:"email" form:"email"`
	Password     string `json:"password" form:"password"`
	DisplayName  string `json:"display_name" form:"display_name"`
	Organisation string `json:"organisation" form:"organisation"`
}

// Registered is the outcome of a sign-up: the inactive account and, when
// e-mail verification is on, the token the verification link carries. For
// an address that already has an account nothing is created and Existing
// is set: the caller answers exactly as for a new one (so a sign-up never
// tells whether an address is registered) and may tell the address's
// owner by e-mail.
type Registered struct {
	User        auth.User
	VerifyToken string
	// Next is "verify_email" or "await_activation" (from the
	// configuration alone, never from the address).
	Next     string
	Existing bool
}

// Register creates an inactive developer account. With e-mail
// verification, the caller mails the token; otherwise the bureau is told
// to activate it. Form errors name the field with a message key.
func (s *Service) Register(ctx context.Context, in SignUp) (Registered, error) {
	in.Email = strings.ToLower(strings.TrimSpace(in.Email))
	in.DisplayName = strings.TrimSpace(in.DisplayName)
	in.Organisation = strings.TrimSpace(in.Organisation)
	fe := errs.FieldErrors{}
	if !auth.ValidEmail(in.Email) {
		fe["email"] = "auth.email.invalid"
	}
	if n := utf8.RuneCountInString(in.DisplayName); n < 1 || n > 60 {
		fe["display_name"] = "signup.display_name_length"
	}
	if utf8.RuneCountInString(in.Organisation) > 100 {
		fe["organisation"] = "signup.organisation_length"
	}
	if err := auth.ValidatePassword(in.Email, in.Password); err != nil {
		fe["password"] = err.(errs.FieldErrors)["password"]
	}
	if err := fe.Err(); err != nil {
		return Registered{}, err
	}
	next := "await_activation"
	if s.VerifyByEmail {
		next = "verify_email"
	}
	// The account, its verification token and the audit event commit together.
	var token string
	u, err := s.Users.CreateUserAnd(ctx, auth.NewUser{Username: in.Email, DisplayName: in.DisplayName, Password: in.Password,
		Role: auth.RoleDeveloper, Email: in.Email, Organisation: in.Organisation, Inactive: true}, func(q db.Querier, id int64) error {
		if s.VerifyByEmail {
			var hash string
			token, hash = auth.NewToken("")
			if _, err := q.Exec(ctx, "INSERT INTO email_tokens (token_hash, user_id, expires_at) VALUES (?, ?, ?)", hash, id, s.Now.Now().Add(48*time.Hour)); err != nil {
				return err
			}
		}
		return s.auditTx(ctx, q, auth.Actor{ID: id, Name: in.Email, Role: auth.RoleDeveloper}, "account.register", 0, "",
			fmt.Sprintf("developer %s (%s)", in.Email, in.Organisation))
	})
	if err != nil {
		var taken errs.FieldErrors
		if errors.As(err, &taken) && taken["username"] == auth.MsgUsernameTaken {
			return Registered{Next: next, Existing: true}, nil
		}
		return Registered{}, err
	}
	out := Registered{User: u, Next: next}
	if s.VerifyByEmail {
		out.VerifyToken = token
	} else {
		s.Notify.Send(ctx, "developer_signup", notify.Params("email", u.Email, "name", u.DisplayName, "organisation", u.Organisation),
			"/console/developers", notify.To{Role: string(auth.RoleBureauAdmin)})
	}
	return out, nil
}

// Verify activates the account a verification token belongs to.
func (s *Service) Verify(ctx context.Context, token string) (auth.User, error) {
	var uid int64
	var exp time.Time
	bad := errs.Invalidf("err.verify.bad")
	if err := s.DB.QueryRow(ctx, "SELECT user_id, expires_at FROM email_tokens WHERE token_hash = ?", auth.HashToken(token)).Scan(&uid, &exp); err != nil {
		return auth.User{}, bad
	}
	if !s.Now.Now().Before(exp) {
		return auth.User{}, bad
	}
	u, err := s.Users.GetUser(ctx, uid)
	if err != nil {
		return u, err
	}
	err = s.DB.Tx(ctx, func(q db.Querier) error {
		if _, err := q.Exec(ctx, "UPDATE users SET active = 1, email_verified = 1, updated_at = ? WHERE id = ?", s.Now.Now(), uid); err != nil {
			return err
		}
		res, err := q.Exec(ctx, "DELETE FROM email_tokens WHERE user_id = ?", uid)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return bad // used meanwhile: one verification, one event
		}
		return s.auditTx(ctx, q, u.Actor(), "account.verify", 0, "", u.Email)
	})
	if err != nil {
		return auth.User{}, err
	}
	return s.Users.GetUser(ctx, uid)
}

// SetDeveloperActive is the bureau's activation (or suspension) of a
// developer account; suspending ends its sessions, and its keys stop
// working because Authenticate checks the account.
func (s *Service) SetDeveloperActive(ctx context.Context, by auth.User, id int64, active bool) (auth.User, error) {
	if by.Role != auth.RoleBureauAdmin {
		return auth.User{}, errs.Forbiddenf("err.dev.activate_who")
	}
	u, err := s.Users.GetUser(ctx, id)
	if err != nil {
		return u, err
	}
	if u.Role != auth.RoleDeveloper {
		return u, errs.NotFoundf("err.dev.not_found", "id", id)
	}
	action := "account.activate"
	if !active {
		action = "account.suspend"
	}
	if err := s.Users.SetActiveAnd(ctx, id, active, func(q db.Querier) error {
		return s.auditTx(ctx, q, by.Actor(), action, 0, "", u.Email)
	}); err != nil {
		return u, err
	}
	s.forgetKeys(ctx)
	if active {
		s.Notify.Send(ctx, "developer_activated", notify.Params("name", u.DisplayName), "/account", notify.To{UserID: u.ID})
	}
	return s.Users.GetUser(ctx, id)
}

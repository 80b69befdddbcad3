package sharing

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
)

// Credential is a department system's machine credential (the token itself
// is shown once, at creation or rotation, and stored only as a hash).
type Credential struct {
	ID           int64      `json:"id"`
	DepartmentID int64      `json:"department_id"`
	SystemName   string     `json:"system_name"`
	CreatedAt    time.Time  `json:"created_at"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt   *time.Time `json:"last_used_at,omitempty"`
	Token        string     `json:"token,omitempty"` // only in the create/rotate answer
}

func mayManage(p Principal, dept int64) bool {
	return !p.System && (p.Role == auth.RoleBureauAdmin || (p.Role == auth.RoleDeptAdmin && p.DepartmentID == dept))
}

// CreateCredential issues a credential for a department's system.
func (s *Service) CreateCredential(ctx context.Context, p Principal, dept int64, system string) (Credential, error) {
	if !mayManage(p, dept) {
		return Credential{}, errs.Forbiddenf("err.cred.who")
	}
	system = strings.TrimSpace(system)
	if n := utf8.RuneCountInString(system); n < 2 || n > 100 {
		return Credential{}, errs.FieldErrors{"system_name": "err.field.system_name"}
	}
	var id int64
	var token string
	err := s.DB.Tx(ctx, func(q db.Querier) error {
		var err error
		id, token, err = s.createCredentialTx(ctx, q, p, dept, system)
		return err
	})
	if err != nil {
		return Credential{}, err
	}
	c, err := s.credential(ctx, id)
	c.Token = token
	return c, err
}

// createCredentialTx stores a new credential and its audit event in q.
func (s *Service) createCredentialTx(ctx context.Context, q db.Querier, p Principal, dept int64, system string) (int64, string, error) {
	token, hash := auth.NewToken("odc_")
	id, err := q.InsertID(ctx, "INSERT INTO dept_credentials (department_id, system_name, token_hash, created_at) VALUES (?, ?, ?, ?)", dept, system, hash, s.Now.Now())
	if err != nil {
		return 0, "", err
	}
	err = s.auditTx(ctx, q, auditEvent(p, "credential.created", 0, "", fmt.Sprintf("credential %d for %s (department %d)", id, system, dept)))
	return id, token, err
}

func (s *Service) credential(ctx context.Context, id int64) (Credential, error) {
	var c Credential
	err := s.DB.QueryRow(ctx, "SELECT id, department_id, system_name, created_at, revoked_at, last_used_at FROM dept_credentials WHERE id = ?", id).
		Scan(&c.ID, &c.DepartmentID, &c.SystemName, &c.CreatedAt, &c.RevokedAt, &c.LastUsedAt)
	if err != nil {
		return c, fmt.Errorf("credential %d: %w", id, db.MapErr(err))
	}
	return c, nil
}

// Credentials lists a department's credentials (never the tokens).
func (s *Service) Credentials(ctx context.Context, p Principal, dept int64) ([]Credential, error) {
	if !mayManage(p, dept) {
		return nil, errs.Forbiddenf("err.not_allowed")
	}
	return loadAll(ctx, s, s.credential, "SELECT id FROM dept_credentials WHERE department_id = ? ORDER BY id", dept)
}

// RevokeCredential ends a credential at once.
func (s *Service) RevokeCredential(ctx context.Context, p Principal, id int64) error {
	c, err := s.credential(ctx, id)
	if err != nil {
		return err
	}
	if !mayManage(p, c.DepartmentID) {
		return errs.Forbiddenf("err.not_allowed")
	}
	return s.DB.Tx(ctx, func(q db.Querier) error {
		res, err := q.Exec(ctx, "UPDATE dept_credentials SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", s.Now.Now(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil // revoked already: one revocation, one event
		}
		return s.auditTx(ctx, q, auditEvent(p, "credential.revoked", 0, "", fmt.Sprintf("credential %d (%s)", id, c.SystemName)))
	})
}

// ErrRevokedCredential refuses to rotate a credential that is already
// revoked: revoked stays revoked, and rotating it must not bring a working
// one back (create a new credential instead, deliberately).
var ErrRevokedCredential = &errs.Public{Kind: errs.Conflict, Code: "credential_revoked", Key: "credential.rotate_revoked"}

// RotateCredential revokes a live credential and issues a new one for the
// same system. Only the caller whose revocation took effect issues the new
// one, so a revoked credential, or two rotations at once, never yield a
// second working token.
func (s *Service) RotateCredential(ctx context.Context, p Principal, id int64) (Credential, error) {
	c, err := s.credential(ctx, id)
	if err != nil {
		return c, err
	}
	if !mayManage(p, c.DepartmentID) {
		return c, errs.Forbiddenf("err.not_allowed")
	}
	// The revocation, the new credential and both events commit together.
	var nid int64
	var token string
	err = s.DB.Tx(ctx, func(q db.Querier) error {
		res, err := q.Exec(ctx, "UPDATE dept_credentials SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", s.Now.Now(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrRevokedCredential
		}
		if err := s.auditTx(ctx, q, auditEvent(p, "credential.revoked", 0, "", fmt.Sprintf("credential %d (%s), rotated", id, c.SystemName))); err != nil {
			return err
		}
		nid, token, err = s.createCredentialTx(ctx, q, p, c.DepartmentID, c.SystemName)
		return err
	})
	if err != nil {
		return c, err
	}
	nc, err := s.credential(ctx, nid)
	nc.Token = token
	return nc, err
}

// Authenticate resolves a system token to its department principal.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	var id, dept int64
	var name string
	var revoked *time.Time
	err := db.MapErr(s.DB.QueryRow(ctx, "SELECT id, department_id, system_name, revoked_at FROM dept_credentials WHERE token_hash = ?", auth.HashToken(token)).
		Scan(&id, &dept, &name, &revoked))
	if err != nil && !errors.Is(err, errs.NotFound) {
		return Principal{}, err
	}
	if err != nil || revoked != nil {
		return Principal{}, errs.Unauthenticatedf("err.cred.bad")
	}
	s.DB.Exec(ctx, "UPDATE dept_credentials SET last_used_at = ? WHERE id = ?", s.Now.Now(), id)
	return Principal{Name: "system:" + name, DepartmentID: dept, System: true}, nil
}

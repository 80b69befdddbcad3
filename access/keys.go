// Package access is the public side of the API gateway: developer
// accounts, API keys with tiers, applications for on-application data and
// the grants they create, and usage statistics per key, dataset and day.
package access

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"opendata/audit"
	"opendata/auth"
	"opendata/calendar"
	"opendata/catalog"
	"opendata/db"
	"opendata/errs"
	"opendata/i18n"
	"opendata/notify"
	"opendata/refcache"
)

// Tiers a key can have; the anonymous tier belongs to callers without one.
const (
	TierRegistered = "registered"
	TierPartner    = "partner"
)

// KeyPrefix starts every API key.
const KeyPrefix = "oda_"

// Service runs accounts, keys, applications and usage.
type Service struct {
	DB       *db.DB
	Users    *auth.Store
	Catalog  *catalog.Store
	Audit    *audit.Log
	Notify   *notify.Notifier
	Calendar *calendar.Calendar
	Log      *slog.Logger
	// KeyMaxDays caps a key's lifetime (0: keys may live forever).
	KeyMaxDays int
	// ApplicationDays is the department's answer deadline in working days.
	ApplicationDays int
	// VerifyByEmail: sign-ups verify their address; otherwise the bureau activates.
	VerifyByEmail bool
	Now           db.Clock

	Usage *Usage

	touchMu sync.Mutex
	touched map[int64]time.Time

	// KeyCacheTTL keeps a looked-up key in memory this long (0: look up
	// every call). Expiry is still checked on every call; revocation,
	// suspension and tier changes clear this instance's cache at once and
	// reach other instances within the TTL.
	KeyCacheTTL time.Duration
	cacheMu     sync.RWMutex
	cache       map[string]cachedCaller
}

type cachedCaller struct {
	c     Caller
	until time.Time
}

// ForgetKeys empties this instance's key cache (another instance changed
// a key or an account: refcache.Keys moved).
func (s *Service) ForgetKeys() {
	s.cacheMu.Lock()
	s.cache = nil
	s.cacheMu.Unlock()
}

// forgetKeys empties the key cache after a revocation, suspension or tier
// change, here at once and on the other instances at their next version
// check. Should the version not be written, they still drop the key within
// KeyCacheTTL.
func (s *Service) forgetKeys(ctx context.Context) {
	s.ForgetKeys()
	if err := refcache.Bump(ctx, s.DB, refcache.Keys); err != nil && s.Log != nil {
		s.Log.Warn("key cache version not bumped; other instances refresh within the key cache TTL", "err", err)
	}
}

// Key is an API key as its owner sees it (never the secret).
type Key struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Tier       string     `json:"tier"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Owner      string     `json:"owner,omitempty"`
}

// Active reports whether the key works at t.
func (k Key) Active(t time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || t.Before(*k.ExpiresAt))
}

// Status is active, expired or revoked.
func (k Key) Status(t time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case k.ExpiresAt != nil && !t.Before(*k.ExpiresAt):
		return "expired"
	}
	return "active"
}

const keyCols = "k.id, k.user_id, k.name, k.prefix, k.tier, k.expires_at, k.revoked_at, k.created_at, k.last_used_at, u.username"

func scanKey(row interface{ Scan(...any) error }) (Key, error) {
	var k Key
	if err := row.Scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, &k.Tier, &k.ExpiresAt, &k.RevokedAt, &k.CreatedAt, &k.LastUsedAt, &k.Owner); err != nil {
		return Key{}, db.MapErr(err)
	}
	return k, nil
}

// actorEvent is the audit record of u's action.
func actorEvent(u auth.Actor, action string, rid int64, purpose, detail string) *audit.Event {
	return &audit.Event{ActorID: u.ID, ActorName: u.Name, DepartmentID: u.DepartmentID, Action: action, ResourceID: rid, Purpose: purpose, Detail: detail}
}

// auditTx appends the event in the change's transaction q: no event, no
// change.
func (s *Service) auditTx(ctx context.Context, q db.Querier, u auth.Actor, action string, rid int64, purpose, detail string) error {
	if s.Audit == nil {
		return nil
	}
	_, err := s.Audit.AppendTx(ctx, q, audit.Event{ActorID: u.ID, ActorName: u.Name, DepartmentID: u.DepartmentID, Action: action,
		ResourceID: rid, Purpose: purpose, Detail: detail})
	return err
}

// MaxKeys is how many active keys one account may hold.
const MaxKeys = 20

// CreateKey makes a key for a developer; the token is returned once and
// only its hash is stored. days is its lifetime (0: the longest allowed).
func (s *Service) CreateKey(ctx context.Context, u auth.User, name string, days int) (Key, string, error) {
	if u.Role != auth.RoleDeveloper {
		return Key{}, "", errs.Forbiddenf("err.keys.developer_only")
	}
	name = strings.TrimSpace(name)
	fe := errs.FieldErrors{}
	if n := utf8.RuneCountInString(name); n < 1 || n > 60 {
		fe["name"] = "err.field.key_name"
	}
	if days < 0 || (s.KeyMaxDays > 0 && days > s.KeyMaxDays) {
		fe["expires_in_days"] = i18n.Msg("err.field.key_days", "max", s.KeyMaxDays)
	}
	if err := fe.Err(); err != nil {
		return Key{}, "", err
	}
	if days == 0 {
		days = s.KeyMaxDays
	}
	var n int
	if err := s.DB.QueryRow(ctx, "SELECT COUNT(*) FROM api_keys WHERE user_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", u.ID, s.Now.Now()).Scan(&n); err != nil {
		return Key{}, "", err
	}
	if n >= MaxKeys {
		return Key{}, "", errs.Conflictf("err.keys.max", "max", MaxKeys)
	}
	token, hash := auth.NewToken(KeyPrefix)
	var exp any
	if days > 0 {
		exp = s.Now.Now().Add(time.Duration(days) * 24 * time.Hour)
	}
	var id int64
	err := s.DB.Tx(ctx, func(q db.Querier) error {
		var err error
		id, err = q.InsertID(ctx, "INSERT INTO api_keys (user_id, name, prefix, token_hash, tier, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
			u.ID, name, token[:len(KeyPrefix)+6], hash, TierRegistered, exp, s.Now.Now())
		if err != nil {
			return err
		}
		return s.auditTx(ctx, q, u.Actor(), "key.create", 0, "", fmt.Sprintf("key %d %q", id, name))
	})
	if err != nil {
		return Key{}, "", err
	}
	k, err := s.GetKey(ctx, id)
	return k, token, err
}

// GetKey returns a key by id.
func (s *Service) GetKey(ctx context.Context, id int64) (Key, error) {
	return scanKey(s.DB.QueryRow(ctx, "SELECT "+keyCols+" FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = ?", id))
}

// ListKeys lists an account's keys (every key for user 0: the bureau).
func (s *Service) ListKeys(ctx context.Context, user int64) ([]Key, error) {
	q, args := "SELECT "+keyCols+" FROM api_keys k JOIN users u ON u.id = k.user_id", []any{}
	if user != 0 {
		q, args = q+" WHERE k.user_id = ?", append(args, user)
	}
	return db.QueryAll(ctx, s.DB, q+" ORDER BY k.id DESC", func(r db.Scanner) (Key, error) { return scanKey(r) }, args...)
}

// RevokeKey ends a key at once: its owner or the bureau may.
func (s *Service) RevokeKey(ctx context.Context, by auth.User, id int64) error {
	k, err := s.GetKey(ctx, id)
	if err != nil {
		return err
	}
	if k.UserID != by.ID && by.Role != auth.RoleBureauAdmin {
		return errs.NotFoundf("err.key_not_found", "id", id) // someone else's key does not exist for you
	}
	if k.RevokedAt != nil {
		return nil
	}
	err = s.DB.Tx(ctx, func(q db.Querier) error {
		res, err := q.Exec(ctx, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", s.Now.Now(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil // revoked meanwhile: one revocation, one event
		}
		return s.auditTx(ctx, q, by.Actor(), "key.revoke", 0, "", fmt.Sprintf("key %d %q of %s", id, k.Name, k.Owner))
	})
	if err != nil {
		return err
	}
	s.forgetKeys(ctx)
	return nil
}

// SetTier is the bureau's choice of a key's limits.
func (s *Service) SetTier(ctx context.Context, by auth.User, id int64, tier string) (Key, error) {
	if by.Role != auth.RoleBureauAdmin {
		return Key{}, errs.Forbiddenf("err.keys.tier")
	}
	if tier != TierRegistered && tier != TierPartner {
		return Key{}, errs.FieldErrors{"tier": "err.field.tier"}
	}
	k, err := s.GetKey(ctx, id)
	if err != nil {
		return Key{}, err
	}
	err = s.DB.Tx(ctx, func(q db.Querier) error {
		if _, err := q.Exec(ctx, "UPDATE api_keys SET tier = ? WHERE id = ?", tier, id); err != nil {
			return err
		}
		return s.auditTx(ctx, q, by.Actor(), "key.tier", 0, "", fmt.Sprintf("key %d of %s: %s → %s", id, k.Owner, k.Tier, tier))
	})
	if err != nil {
		return Key{}, err
	}
	s.forgetKeys(ctx)
	return s.GetKey(ctx, id)
}

// Caller is an authenticated API key and its account.
type Caller struct {
	Key  Key
	User auth.User
}

// LimitKey is whose rate and daily quota a call with a key spends: the
// key's account, per tier. Every key of an account shares it, so making
// more keys (20 at once, or revoke-and-create every day) buys no more calls;
// a key the bureau raised to another tier counts in that tier's allowance.
func LimitKey(c Caller) string {
	return "acct:" + strconv.FormatInt(c.Key.UserID, 10) + ":" + c.Key.Tier
}

// ErrBadKey is the one answer for an unknown, revoked or expired key.
var ErrBadKey = errs.Unauthenticatedf("err.keys.bad")

// Authenticate resolves an API key; revocation and expiry act at once.
func (s *Service) Authenticate(ctx context.Context, token string) (Caller, error) {
	if !strings.HasPrefix(token, KeyPrefix) || len(token) > 100 {
		return Caller{}, ErrBadKey
	}
	hash := auth.HashToken(token)
	now := s.Now.Now()
	if s.KeyCacheTTL > 0 {
		s.cacheMu.RLock()
		hit, ok := s.cache[hash]
		s.cacheMu.RUnlock()
		if ok && now.Before(hit.until) {
			if !hit.c.Key.Active(now) {
				return Caller{}, ErrBadKey
			}
			return hit.c, nil
		}
	}
	// One prepared query: the key, if not revoked, of an active account.
	var k Key
	var u auth.User
	row, err := s.DB.QueryRowPrepared(ctx, `SELECT k.id, k.user_id, k.name, k.prefix, k.tier, k.expires_at, k.created_at, u.username, u.role, u.organisation
		FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.token_hash = ? AND k.revoked_at IS NULL AND u.active = 1`, hash)
	if err != nil {
		return Caller{}, err
	}
	if err := db.MapErr(row.Scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, &k.Tier, &k.ExpiresAt, &k.CreatedAt, &k.Owner, &u.Role, &u.Organisation)); err != nil {
		if errors.Is(err, errs.NotFound) {
			return Caller{}, ErrBadKey
		}
		return Caller{}, err
	}
	if !k.Active(now) {
		return Caller{}, ErrBadKey
	}
	u.ID, u.Username, u.Email, u.Active = k.UserID, k.Owner, k.Owner, true
	s.touch(ctx, k.ID, now)
	c := Caller{Key: k, User: u}
	if s.KeyCacheTTL > 0 {
		s.cacheMu.Lock()
		if s.cache == nil || len(s.cache) > 100_000 {
			s.cache = map[string]cachedCaller{}
		}
		s.cache[hash] = cachedCaller{c: c, until: now.Add(s.KeyCacheTTL)}
		s.cacheMu.Unlock()
	}
	return c, nil
}

// touch records last use at most once a minute per key per instance.
func (s *Service) touch(ctx context.Context, id int64, now time.Time) {
	s.touchMu.Lock()
	if s.touched == nil {
		s.touched = map[int64]time.Time{}
	}
	last := s.touched[id]
	if now.Sub(last) < time.Minute {
		s.touchMu.Unlock()
		return
	}
	s.touched[id] = now
	s.touchMu.Unlock()
	s.DB.Exec(ctx, "UPDATE api_keys SET last_used_at = ? WHERE id = ?", now, id)
}

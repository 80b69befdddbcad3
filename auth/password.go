// Package auth holds staff accounts, roles, passwords and sessions.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"opendata/errs"
)

// Argon2id parameters (RFC 9106 second recommendation, 64 MiB).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
)

// HashPassword returns a PHC-format argon2id hash.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches the PHC hash, in constant time.
func CheckPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// NewToken returns a random token and the hash to store for it.
func NewToken(prefix string) (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = prefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken is the stored form of a token (tokens are high-entropy, so a
// fast hash is enough; the plain token is never stored).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ErrBusy answers a login or sign-up when every hashing slot is taken and
// the queue is full or the wait ran out: the caller tries again shortly.
var ErrBusy = &errs.Public{Kind: errs.Unavailable, Code: "busy", Key: "auth.busy", RetryAfter: 2 * time.Second}

// Hasher bounds the password hashes running at once. Each argon2id hash
// takes 64 MiB and a core for a few hundred milliseconds, so unbounded
// logins exhaust memory and slow every other request; with a Hasher, at
// most Slots hashes run, at most Queue callers wait (each at most Wait),
// and the rest get ErrBusy at once.
type Hasher struct {
	slots   chan struct{}
	queue   int64
	wait    time.Duration
	waiting atomic.Int64
}

// NewHasher runs at most slots hashes at once; queue callers may wait up
// to wait for one.
func NewHasher(slots, queue int, wait time.Duration) *Hasher {
	if slots < 1 {
		slots = 1
	}
	return &Hasher{slots: make(chan struct{}, slots), queue: int64(queue), wait: wait}
}

// Do runs fn in a hashing slot, or returns ErrBusy (or the context's error).
func (h *Hasher) Do(ctx context.Context, fn func()) error {
	select {
	case h.slots <- struct{}{}:
	default:
		if h.waiting.Add(1) > h.queue {
			h.waiting.Add(-1)
			return ErrBusy
		}
		t := time.NewTimer(h.wait)
		select {
		case h.slots <- struct{}{}:
			t.Stop()
			h.waiting.Add(-1)
		case <-t.C:
			h.waiting.Add(-1)
			return ErrBusy
		case <-ctx.Done():
			t.Stop()
			h.waiting.Add(-1)
			return ctx.Err()
		}
	}
	defer func() { <-h.slots }()
	fn()
	return nil
}

// Hash is HashPassword in a slot.
func (h *Hasher) Hash(ctx context.Context, pw string) (hash string, err error) {
	if e := h.Do(ctx, func() { hash, err = HashPassword(pw) }); e != nil {
		return "", e
	}
	return hash, err
}

// Check is CheckPassword in a slot.
func (h *Hasher) Check(ctx context.Context, hash, pw string) (ok bool, err error) {
	err = h.Do(ctx, func() { ok = CheckPassword(hash, pw) })
	return ok, err
}

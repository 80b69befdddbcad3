package auth

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"opendata/errs"
	"opendata/ratelimit"
)

// Throttle is the login rule against password guessing. Every attempt
// counts against the client's address (PerIP); consecutive wrong passwords
// of one account (MaxFailures) lock it for Lockout, and each further lockout
// within a day doubles that time, up to MaxLockout. A lockout refuses even
// the right password until it ends, and is checked before any hashing. The
// counts live in the rate-limit store, so with Redis every instance shares
// them. Counts are kept for any name tried, existing or not, so a lockout
// tells nothing about which accounts exist.
type Throttle struct {
	Limits      *ratelimit.Limits
	PerIP       ratelimit.Tier
	MaxFailures int           // 0: no lockout
	Window      time.Duration // failures further apart than this are not consecutive
	Lockout     time.Duration
	MaxLockout  time.Duration
	Log         *slog.Logger
}

// lockLevels is how long the lockout count is remembered.
const lockLevels = 24 * time.Hour

// LockedError refuses a login to a locked account, saying for how long.
func LockedError(until time.Time) error {
	wait := time.Until(until)
	if wait < time.Second {
		wait = time.Second
	}
	return &errs.Public{Kind: errs.RateLimited, Code: "account_locked", Key: "auth.locked",
		Params: map[string]string{"minutes": strconv.Itoa(max(1, int(math.Round(wait.Minutes()))))}, RetryAfter: wait}
}

func throttledError(wait time.Duration) error {
	if wait < time.Second {
		wait = time.Second
	}
	return &errs.Public{Kind: errs.RateLimited, Code: "login_throttled", Key: "auth.throttled",
		Params: map[string]string{"seconds": strconv.Itoa(int(math.Ceil(wait.Seconds())))}, RetryAfter: wait}
}

// lockoutFor is the n-th lockout's length within a day: Lockout, doubled
// for each one before it, at most MaxLockout.
func (t *Throttle) lockoutFor(n int64) time.Duration {
	d := t.Lockout
	for i := int64(1); i < n && d < t.MaxLockout; i++ {
		d *= 2
	}
	if t.MaxLockout > 0 && d > t.MaxLockout {
		d = t.MaxLockout
	}
	return d
}

// storeFailed logs a failing counter store. Logins then go on unthrottled
// (the hash slots still bound the cost): an outage of Redis must not lock
// every account out.
func (t *Throttle) storeFailed(err error) {
	if t.Log != nil {
		t.Log.Warn("login throttle store failed; attempt not counted", "err", err)
	}
}

// Admit decides whether an attempt on account (a stable name for it) from
// ip may go on to the password check.
func (t *Throttle) Admit(ctx context.Context, account, ip string) error {
	if t == nil || t.Limits == nil {
		return nil
	}
	if ip != "" && t.PerIP.Rate.Limit > 0 {
		res, err := t.Limits.Check(ctx, "login:ip:"+ip, t.PerIP)
		if err != nil {
			t.storeFailed(err)
		} else if !res.Allowed {
			return throttledError(res.RetryAfter)
		}
	}
	if until, locked := t.lockedUntil(ctx, account); locked {
		return LockedError(until)
	}
	return nil
}

func (t *Throttle) lockedUntil(ctx context.Context, account string) (time.Time, bool) {
	if t.MaxFailures <= 0 {
		return time.Time{}, false
	}
	n, _, err := t.Limits.Peek(ctx, "login:locks:"+account, lockLevels)
	if err != nil {
		t.storeFailed(err)
		return time.Time{}, false
	}
	if n == 0 {
		return time.Time{}, false
	}
	c, until, err := t.Limits.Peek(ctx, lockKey(account, n), t.lockoutFor(n))
	if err != nil {
		t.storeFailed(err)
		return time.Time{}, false
	}
	return until, c > 0
}

func lockKey(account string, n int64) string {
	return "login:lock:" + account + ":" + strconv.FormatInt(n, 10)
}

// Failed counts a wrong password; when it is the MaxFailures-th in a row
// the account is locked, and Failed says until when.
func (t *Throttle) Failed(ctx context.Context, account string) (until time.Time, locked bool) {
	if t == nil || t.Limits == nil || t.MaxFailures <= 0 {
		return time.Time{}, false
	}
	f, _, err := t.Limits.Add(ctx, "login:fail:"+account, t.Window)
	if err != nil {
		t.storeFailed(err)
		return time.Time{}, false
	}
	// Add is atomic: exactly one attempt sees the MaxFailures-th failure.
	if f != int64(t.MaxFailures) {
		return time.Time{}, false
	}
	n, _, err := t.Limits.Add(ctx, "login:locks:"+account, lockLevels)
	if err != nil {
		t.storeFailed(err)
		return time.Time{}, false
	}
	d := t.lockoutFor(n)
	if _, until, err = t.Limits.Add(ctx, lockKey(account, n), d); err != nil {
		t.storeFailed(err)
		return time.Time{}, false
	}
	if err := t.Limits.Clear(ctx, "login:fail:"+account, t.Window); err != nil {
		t.storeFailed(err)
	}
	return until, true
}

// Succeeded ends the run of failures of account.
func (t *Throttle) Succeeded(ctx context.Context, account string) {
	if t == nil || t.Limits == nil || t.MaxFailures <= 0 {
		return
	}
	if err := t.Limits.Clear(ctx, "login:fail:"+account, t.Window); err != nil {
		t.storeFailed(err)
	}
}

// accountKey names the throttled account: the user when the name is one,
// else the name as typed (lower case), so every spelling of one account
// shares one count.
func accountKey(uid int64, name string) string {
	if uid != 0 {
		return "u" + strconv.FormatInt(uid, 10)
	}
	return "n:" + strings.ToLower(strings.TrimSpace(name))
}

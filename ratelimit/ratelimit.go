// Package ratelimit counts API calls with ulule/limiter: a per-period rate
// and a daily quota per caller. The store is in memory by default and in
// Redis when configured, so several server instances share one count.
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"
	redisstore "github.com/ulule/limiter/v3/drivers/store/redis"
)

// Tier is what one kind of caller may do.
type Tier struct {
	Rate  limiter.Rate // e.g. 60 per minute
	Daily int64        // calls per day; 0 for no quota
}

// ParseTier reads "60-M" (ulule's format: S, M, H or D) and a daily quota.
func ParseTier(rate string, daily int64) (Tier, error) {
	r, err := limiter.NewRateFromFormatted(rate)
	if err != nil {
		return Tier{}, fmt.Errorf("rate %q: use N-S, N-M, N-H or N-D: %w", rate, err)
	}
	if daily < 0 {
		return Tier{}, fmt.Errorf("daily quota must not be negative")
	}
	return Tier{Rate: r, Daily: daily}, nil
}

// Limits checks callers against tiers.
type Limits struct {
	store limiter.Store
	ping  func(context.Context) error
}

// NewMemory keeps counts in this process.
func NewMemory(prefix string) *Limits {
	return &Limits{store: memory.NewStoreWithOptions(limiter.StoreOptions{Prefix: prefix, CleanUpInterval: time.Minute}),
		ping: func(context.Context) error { return nil }}
}

// NewRedis keeps counts in Redis (redis://host:port/db), shared by every
// instance using the same prefix.
func NewRedis(ctx context.Context, url, prefix string) (*Limits, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	client := redis.NewClient(opt)
	if err := client.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redis %s: %w", opt.Addr, err)
	}
	store, err := redisstore.NewStoreWithOptions(client, limiter.StoreOptions{Prefix: prefix, MaxRetry: 3})
	if err != nil {
		return nil, err
	}
	return &Limits{store: store, ping: func(ctx context.Context) error { return client.Ping(ctx).Err() }}, nil
}

// Ping checks the store (readiness).
func (l *Limits) Ping(ctx context.Context) error { return l.ping(ctx) }

// Result is one decision with what the headers report.
type Result struct {
	Allowed    bool
	Limit      int64
	Remaining  int64
	Reset      time.Time
	RetryAfter time.Duration
	Quota      bool // refused by the daily quota rather than the rate
}

// Check counts one call of key against tier.
func (l *Limits) Check(ctx context.Context, key string, tier Tier) (Result, error) {
	rc, err := limiter.New(l.store, tier.Rate).Get(ctx, safe(key)+":r")
	if err != nil {
		return Result{}, err
	}
	res := Result{Allowed: !rc.Reached, Limit: rc.Limit, Remaining: rc.Remaining, Reset: resetTime(rc.Reset)}
	if rc.Reached {
		res.RetryAfter = time.Until(res.Reset)
		return res, nil
	}
	if tier.Daily > 0 {
		dc, err := limiter.New(l.store, limiter.Rate{Period: 24 * time.Hour, Limit: tier.Daily}).Get(ctx, safe(key)+":d")
		if err != nil {
			return Result{}, err
		}
		if dc.Reached {
			reset := resetTime(dc.Reset)
			return Result{Limit: dc.Limit, Remaining: 0, Reset: reset, RetryAfter: time.Until(reset), Quota: true}, nil
		}
		if dc.Remaining < res.Remaining {
			res.Remaining = dc.Remaining
		}
	}
	return res, nil
}

// resetTime turns limiter's reset (the window's end truncated to whole
// seconds) into an upper bound, so RateLimit-Reset and Retry-After never
// tell a client to come back before the window has really ended.
func resetTime(unix int64) time.Time { return time.Unix(unix+1, 0) }

func safe(key string) string { return strings.NewReplacer(" ", "_", "\n", "_").Replace(key) }

// Counters beside the rate limits: a count per key in a fixed window that
// starts with the key's first count (login failures, lockouts). They live
// in the same store, so with Redis every instance sees the same counts.

// counting is a rate whose limit is never reached, so the count is
// Limit - Remaining.
func counting(period time.Duration) limiter.Rate {
	return limiter.Rate{Period: period, Limit: math.MaxInt64}
}

// Add counts one event of key in a window of period and returns the count
// so far and when the window ends (exactly one caller sees each count,
// whatever the number of instances).
func (l *Limits) Add(ctx context.Context, key string, period time.Duration) (int64, time.Time, error) {
	c, err := l.store.Increment(ctx, safe(key), 1, counting(period))
	if err != nil {
		return 0, time.Time{}, err
	}
	return c.Limit - c.Remaining, resetTime(c.Reset), nil
}

// Peek returns key's count and the window's end without counting.
func (l *Limits) Peek(ctx context.Context, key string, period time.Duration) (int64, time.Time, error) {
	c, err := l.store.Peek(ctx, safe(key), counting(period))
	if err != nil {
		return 0, time.Time{}, err
	}
	return c.Limit - c.Remaining, resetTime(c.Reset), nil
}

// Clear forgets key's count.
func (l *Limits) Clear(ctx context.Context, key string, period time.Duration) error {
	_, err := l.store.Reset(ctx, safe(key), counting(period))
	return err
}

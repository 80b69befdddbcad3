package ratelimit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"opendata/ratelimit"
	"opendata/ratelimit/ratelimittest"
)

func each(t *testing.T, fn func(t *testing.T, l *ratelimit.Limits)) {
	t.Run("memory", func(t *testing.T) { fn(t, ratelimit.NewMemory("t:")) })
	t.Run("redis", func(t *testing.T) {
		l, err := ratelimit.NewRedis(context.Background(), ratelimittest.RedisURL(t), fmt.Sprintf("test:%d:", time.Now().UnixNano()))
		if err != nil {
			t.Fatal(err)
		}
		fn(t, l)
	})
}

func TestLimits(t *testing.T) {
	each(t, func(t *testing.T, l *ratelimit.Limits) {
		ctx := context.Background()
		tier, err := ratelimit.ParseTier("3-M", 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			r, err := l.Check(ctx, "ip:a", tier)
			if err != nil || !r.Allowed || r.Remaining != int64(2-i) || r.Limit != 3 {
				t.Fatalf("call %d: %+v %v", i, r, err)
			}
		}
		r, _ := l.Check(ctx, "ip:a", tier)
		if r.Allowed || r.RetryAfter <= 0 || r.RetryAfter > time.Minute+time.Second || r.Quota {
			t.Fatalf("4th call: %+v", r)
		}
		if r, _ := l.Check(ctx, "ip:b", tier); !r.Allowed {
			t.Fatal("another caller was limited")
		}
		quota, _ := ratelimit.ParseTier("100-M", 2)
		l.Check(ctx, "key:q", quota)
		l.Check(ctx, "key:q", quota)
		if r, _ := l.Check(ctx, "key:q", quota); r.Allowed || !r.Quota || r.RetryAfter < 23*time.Hour {
			t.Fatalf("daily quota: %+v", r)
		}
		if err := l.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := ratelimit.ParseTier("lots", 0); err == nil {
		t.Fatal("bad rate accepted")
	}
}

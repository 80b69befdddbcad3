// Package ratelimittest gives tests the Redis server at TEST_REDIS_URL.
package ratelimittest

import (
	"os"
	"testing"
)

// RedisURL returns TEST_REDIS_URL; missing is a skip locally and a failure in CI.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_REDIS_URL is not set: CI requires the Redis suite to run")
		}
		t.Skip("TEST_REDIS_URL not set; skipping Redis (e.g. redis://127.0.0.1:6379/0)")
	}
	return u
}

// Package e2e holds end-to-end tests that build the real opendata binary
// and run several `opendata serve` processes against real PostgreSQL,
// MinIO and Redis servers. It has no code of its own.
package e2e

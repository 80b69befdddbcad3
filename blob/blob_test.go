package blob_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"opendata/blob"
	"opendata/blob/blobtest"
)

func TestLocal(t *testing.T) {
	s, err := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, s)
}

func TestLocalNoEscape(t *testing.T) {
	dir := t.TempDir()
	s, _ := blob.NewLocal(filepath.Join(dir, "root"))
	os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o600)
	if _, _, err := s.Get(context.Background(), "../secret"); err == nil {
		t.Fatal("escaped the root")
	}
}

// TestMinIO runs the suite against the real server named by TEST_MINIO_*.
func TestMinIO(t *testing.T) {
	endpoint := os.Getenv("TEST_MINIO_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_MINIO_ENDPOINT is not set: CI requires the MinIO suite to run")
		}
		t.Skip("TEST_MINIO_ENDPOINT not set; skipping MinIO (see .ci/run)")
	}
	b := make([]byte, 4)
	rand.Read(b)
	s, err := blob.NewMinIO(context.Background(), blob.MinIOConfig{
		Endpoint:  endpoint,
		AccessKey: os.Getenv("TEST_MINIO_ACCESS_KEY"),
		SecretKey: os.Getenv("TEST_MINIO_SECRET_KEY"),
		Bucket:    "opendata-test",
		Prefix:    "t" + hex.EncodeToString(b) + "/",
	})
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, s)
}

// Package blob is object storage for dataset versions and uploads: the local
// disk by default, MinIO (or any S3) in production. Keys are slash-separated
// relative paths; a key that could escape the root is refused.
package blob

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"opendata/errs"
)

// Info describes a stored object.
type Info struct {
	Key      string
	Size     int64
	Modified time.Time
	ETag     string
}

// Store is the object-storage interface every backend implements.
type Store interface {
	// Put stores r under key atomically: readers see the old object or the
	// whole new one, never a part. size may be -1 when unknown.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens the object; the caller closes it.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// GetRange opens length bytes from offset (length < 0: to the end).
	GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the objects whose keys start with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Ping checks the backend is reachable (readiness).
	Ping(ctx context.Context) error
}

// CheckKey refuses keys that are empty, absolute, contain "." or ".."
// segments, backslashes or control characters.
func CheckKey(key string) error {
	if key == "" || len(key) > 1024 {
		return errs.Internal(errs.Invalid, fmt.Errorf("blob key must be 1 to 1024 bytes"))
	}
	if strings.HasPrefix(key, "/") || strings.Contains(key, `\`) || strings.HasSuffix(key, "/") {
		return errs.Internal(errs.Invalid, fmt.Errorf("blob key %q is not a clean relative path", key))
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return errs.Internal(errs.Invalid, fmt.Errorf("blob key %q contains a control character", key))
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return errs.Internal(errs.Invalid, fmt.Errorf("blob key %q has an empty, '.' or '..' segment", key))
		}
	}
	if path.Clean(key) != key {
		return errs.Internal(errs.Invalid, fmt.Errorf("blob key %q is not clean", key))
	}
	return nil
}

// DeletePrefix removes every object under prefix.
func DeletePrefix(ctx context.Context, s Store, prefix string) error {
	infos, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, in := range infos {
		if err := s.Delete(ctx, in.Key); err != nil {
			return fmt.Errorf("delete %s: %w", in.Key, err)
		}
	}
	return nil
}

package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"opendata/errs"
)

// MinIO stores objects in one bucket of a MinIO or S3 server. A PUT is
// atomic on the server side: an object is visible only once it is complete.
type MinIO struct {
	c      *minio.Client
	bucket string
	prefix string
}

var _ Store = (*MinIO)(nil)

// MinIOConfig locates the server and bucket.
type MinIOConfig struct {
	Endpoint, AccessKey, SecretKey, Bucket, Region string
	UseSSL                                         bool
	// Prefix is prepended to every key (lets tests share one bucket).
	Prefix string
}

// NewMinIO connects and creates the bucket when it does not exist.
func NewMinIO(ctx context.Context, cfg MinIOConfig) (*MinIO, error) {
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseSSL,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("minio client: %w", err)
	}
	exists, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("minio %s: %w", cfg.Endpoint, err)
	}
	if !exists {
		if err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			// Another instance may have created it meanwhile.
			if ok, _ := c.BucketExists(ctx, cfg.Bucket); !ok {
				return nil, fmt.Errorf("create bucket %s: %w", cfg.Bucket, err)
			}
		}
	}
	return &MinIO{c: c, bucket: cfg.Bucket, prefix: cfg.Prefix}, nil
}

func (m *MinIO) name(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return m.prefix + key, nil
}

func mapMinioErr(key string, err error) error {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && (resp.Code == minio.NoSuchKey || resp.StatusCode == 404) {
		return errs.Internal(errs.NotFound, fmt.Errorf("object %s", key))
	}
	if errors.As(err, &resp) && resp.Code == "InvalidRange" {
		return errs.Internal(errs.Invalid, fmt.Errorf("range outside object %s", key))
	}
	return err
}

func (m *MinIO) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	name, err := m.name(key)
	if err != nil {
		return err
	}
	info, err := m.c.PutObject(ctx, m.bucket, name, r, size, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if size >= 0 && info.Size != size {
		return fmt.Errorf("put %s: stored %d bytes, expected %d", key, info.Size, size)
	}
	return nil
}

func (m *MinIO) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	info, err := m.Stat(ctx, key)
	if err != nil {
		return nil, Info{}, err
	}
	name, _ := m.name(key)
	obj, err := m.c.GetObject(ctx, m.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, Info{}, mapMinioErr(key, err)
	}
	return obj, info, nil
}

func (m *MinIO) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	info, err := m.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	if offset < 0 || offset > info.Size {
		return nil, errs.Internal(errs.Invalid, fmt.Errorf("range start %d outside object of %d bytes", offset, info.Size))
	}
	if offset == info.Size || length == 0 {
		return io.NopCloser(eofReader{}), nil
	}
	name, _ := m.name(key)
	opts := minio.GetObjectOptions{}
	end := info.Size - 1
	if length >= 0 && offset+length-1 < end {
		end = offset + length - 1
	}
	if err := opts.SetRange(offset, end); err != nil {
		return nil, errs.Internal(errs.Invalid, fmt.Errorf("range: %v", err))
	}
	obj, err := m.c.GetObject(ctx, m.bucket, name, opts)
	if err != nil {
		return nil, mapMinioErr(key, err)
	}
	return obj, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func (m *MinIO) Stat(ctx context.Context, key string) (Info, error) {
	name, err := m.name(key)
	if err != nil {
		return Info{}, err
	}
	st, err := m.c.StatObject(ctx, m.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, mapMinioErr(key, err)
	}
	return Info{Key: key, Size: st.Size, Modified: st.LastModified.UTC(), ETag: st.ETag}, nil
}

func (m *MinIO) Delete(ctx context.Context, key string) error {
	name, err := m.name(key)
	if err != nil {
		return err
	}
	if err := m.c.RemoveObject(ctx, m.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		if errors.Is(mapMinioErr(key, err), errs.NotFound) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

func (m *MinIO) List(ctx context.Context, prefix string) ([]Info, error) {
	var out []Info
	for obj := range m.c.ListObjects(ctx, m.bucket, minio.ListObjectsOptions{Prefix: m.prefix + prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, obj.Err)
		}
		out = append(out, Info{Key: obj.Key[len(m.prefix):], Size: obj.Size, Modified: obj.LastModified.UTC(), ETag: obj.ETag})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (m *MinIO) Ping(ctx context.Context) error {
	_, err := m.c.BucketExists(ctx, m.bucket)
	return err
}

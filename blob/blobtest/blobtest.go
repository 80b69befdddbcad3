// Package blobtest is the conformance suite every blob.Store passes.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"opendata/blob"
	"opendata/errs"
)

// Run exercises s. The store must start empty.
func Run(t *testing.T, s blob.Store) {
	ctx := context.Background()
	read := func(t *testing.T, rc io.ReadCloser) string {
		t.Helper()
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	t.Run("put get stat", func(t *testing.T) {
		body := "站点编号,站点名称\n1,人民广场\n"
		if err := s.Put(ctx, "resources/1/v1/open.csv", strings.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
		rc, info, err := s.Get(ctx, "resources/1/v1/open.csv")
		if err != nil {
			t.Fatal(err)
		}
		if got := read(t, rc); got != body {
			t.Fatalf("got %q", got)
		}
		if info.Size != int64(len(body)) || info.ETag == "" || info.Modified.IsZero() {
			t.Fatalf("info %+v", info)
		}
		st, err := s.Stat(ctx, "resources/1/v1/open.csv")
		if err != nil || st.Size != info.Size || st.ETag != info.ETag {
			t.Fatalf("stat %+v %v", st, err)
		}
	})

	t.Run("unknown size", func(t *testing.T) {
		if err := s.Put(ctx, "u/x", strings.NewReader("hello"), -1); err != nil {
			t.Fatal(err)
		}
		rc, _, err := s.Get(ctx, "u/x")
		if err != nil || read(t, rc) != "hello" {
			t.Fatal(err)
		}
		s.Delete(ctx, "u/x")
	})

	t.Run("overwrite replaces whole object", func(t *testing.T) {
		s.Put(ctx, "o/k", strings.NewReader("first version"), -1)
		s.Put(ctx, "o/k", strings.NewReader("2nd"), -1)
		rc, _, err := s.Get(ctx, "o/k")
		if err != nil || read(t, rc) != "2nd" {
			t.Fatal(err)
		}
		s.Delete(ctx, "o/k")
	})

	t.Run("range", func(t *testing.T) {
		s.Put(ctx, "r/k", strings.NewReader("0123456789"), 10)
		cases := []struct {
			off, n int64
			want   string
		}{{0, 3, "012"}, {7, -1, "789"}, {8, 100, "89"}, {10, -1, ""}}
		for _, c := range cases {
			rc, err := s.GetRange(ctx, "r/k", c.off, c.n)
			if err != nil {
				t.Fatalf("range %d,%d: %v", c.off, c.n, err)
			}
			if got := read(t, rc); got != c.want {
				t.Errorf("range %d,%d = %q want %q", c.off, c.n, got, c.want)
			}
		}
		if _, err := s.GetRange(ctx, "r/k", 11, 1); !errors.Is(err, errs.Invalid) {
			t.Errorf("range past end: %v", err)
		}
		s.Delete(ctx, "r/k")
	})

	t.Run("missing is NotFound", func(t *testing.T) {
		if _, _, err := s.Get(ctx, "no/such"); !errors.Is(err, errs.NotFound) {
			t.Fatalf("get: %v", err)
		}
		if _, err := s.Stat(ctx, "no/such"); !errors.Is(err, errs.NotFound) {
			t.Fatalf("stat: %v", err)
		}
		if err := s.Delete(ctx, "no/such"); err != nil {
			t.Fatalf("delete missing: %v", err)
		}
	})

	t.Run("list and delete prefix", func(t *testing.T) {
		for _, k := range []string{"p/a/2", "p/a/1", "p/b/1", "q/1"} {
			s.Put(ctx, k, bytes.NewReader([]byte(k)), int64(len(k)))
		}
		infos, err := s.List(ctx, "p/a/")
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 2 || infos[0].Key != "p/a/1" || infos[1].Key != "p/a/2" || infos[0].Size != 5 {
			t.Fatalf("list %+v", infos)
		}
		if err := blob.DeletePrefix(ctx, s, "p/"); err != nil {
			t.Fatal(err)
		}
		if infos, _ := s.List(ctx, "p/"); len(infos) != 0 {
			t.Fatalf("left %+v", infos)
		}
		if infos, _ := s.List(ctx, "q/"); len(infos) != 1 {
			t.Fatalf("deleted too much: %+v", infos)
		}
		s.Delete(ctx, "q/1")
	})

	t.Run("bad keys refused", func(t *testing.T) {
		for _, k := range []string{"", "../etc/passwd", "a/../../b", "/abs", `a\b`, "a//b", "./a", "a/", "a/\x00b"} {
			if err := s.Put(ctx, k, strings.NewReader("x"), 1); !errors.Is(err, errs.Invalid) {
				t.Errorf("Put(%q) = %v, want Invalid", k, err)
			}
			if _, _, err := s.Get(ctx, k); !errors.Is(err, errs.Invalid) {
				t.Errorf("Get(%q) = %v, want Invalid", k, err)
			}
		}
	})

	t.Run("failed put leaves nothing", func(t *testing.T) {
		err := s.Put(ctx, "f/k", io.MultiReader(strings.NewReader("partial"), failingReader{}), -1)
		if err == nil {
			t.Fatal("want error")
		}
		if _, err := s.Stat(ctx, "f/k"); !errors.Is(err, errs.NotFound) {
			t.Fatalf("partial object visible: %v", err)
		}
		if infos, _ := s.List(ctx, "f/"); len(infos) != 0 {
			t.Fatalf("orphans: %+v", infos)
		}
	})

	t.Run("concurrent writers", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				body := strings.Repeat(string(rune('a'+i)), 64<<10)
				if err := s.Put(ctx, "c/k", strings.NewReader(body), int64(len(body))); err != nil {
					t.Error(err)
				}
			}(i)
		}
		wg.Wait()
		rc, _, err := s.Get(ctx, "c/k")
		if err != nil {
			t.Fatal(err)
		}
		got := read(t, rc)
		if len(got) != 64<<10 || strings.Count(got, got[:1]) != len(got) {
			t.Fatalf("torn object: len %d", len(got))
		}
		s.Delete(ctx, "c/k")
	})

	t.Run("ping", func(t *testing.T) {
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

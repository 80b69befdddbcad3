package ingest

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

// fakeRows yields n records (reusing one slice, as csv.Reader does), then err.
type fakeRows struct {
	n, i   int
	rec    []string
	err    error
	closed bool
}

func (f *fakeRows) Next() ([]string, error) {
	if f.i >= f.n {
		return nil, f.err
	}
	f.i++
	f.rec = append(f.rec[:0], fmt.Sprint(f.i), "x")
	return f.rec, nil
}
func (f *fakeRows) Row() int64     { return int64(f.i) + 1 } // the header is line 1
func (f *fakeRows) Offset() int64  { return int64(f.i) * 10 }
func (f *fakeRows) Keys() []string { return nil }
func (f *fakeRows) Close() error   { f.closed = true; return nil }

func TestPrefetchKeepsOrderRowsAndErrors(t *testing.T) {
	bad := errors.New("line 1502: bad quote")
	for _, tc := range []struct {
		n   int
		end error
	}{{0, io.EOF}, {1, io.EOF}, {prefetchBatch, io.EOF}, {3*prefetchBatch + 7, io.EOF}, {1501, bad}} {
		p := newPrefetch(&fakeRows{n: tc.n, err: tc.end})
		for i := 1; i <= tc.n; i++ {
			rec, err := p.Next()
			if err != nil || rec[0] != fmt.Sprint(i) || p.Row() != int64(i)+1 || p.Offset() != int64(i)*10 {
				t.Fatalf("n=%d record %d: %v %v row %d offset %d", tc.n, i, rec, err, p.Row(), p.Offset())
			}
		}
		for k := 0; k < 2; k++ { // the end is sticky
			if _, err := p.Next(); err != tc.end {
				t.Fatalf("n=%d: end %v, want %v", tc.n, err, tc.end)
			}
		}
		p.Close()
	}
	// Closing early stops the reader and closes the source.
	f := &fakeRows{n: 100000, err: io.EOF}
	p := newPrefetch(f)
	p.Next()
	if err := p.Close(); err != nil || !f.closed {
		t.Fatalf("close: %v %v", err, f.closed)
	}
	p.Close() // twice is fine
}

package ingest

import (
	"io"
	"sync"
)

// prefetch reads a source's records on its own goroutine, a batch at a
// time, so decoding (CSV parsing, UTF-8 checks) overlaps with the caller's
// conversion instead of taking turns with it on one core. Records, row
// numbers, offsets and errors come out exactly as the inner reader gave
// them, in order.
type prefetch struct {
	inner rowReader
	ch    chan *recBatch
	free  chan *recBatch
	done  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once

	cur      *recBatch
	i        int
	row, off int64
}

type recBatch struct {
	flat []string
	recs [][]string
	rows []int64
	offs []int64
	err  error // after the records: the error (io.EOF at the end) the inner reader gave next
}

// A batch is prefetchBatch records, or fewer when they reach prefetchCells
// cells or prefetchBytes of text, so wide or long records cannot make the
// queue take more memory than narrow ones.
const (
	prefetchBatch = 512
	prefetchCells = 1 << 16
	prefetchBytes = 4 << 20
)

func newPrefetch(inner rowReader) *prefetch {
	p := &prefetch{inner: inner, ch: make(chan *recBatch, 4), free: make(chan *recBatch, 6), done: make(chan struct{})}
	p.wg.Add(1)
	go p.fill()
	return p
}

func (p *prefetch) fill() {
	defer p.wg.Done()
	for {
		var b *recBatch
		select {
		case b = <-p.free:
			b.flat, b.recs, b.rows, b.offs, b.err = b.flat[:0], b.recs[:0], b.rows[:0], b.offs[:0], nil
		default:
			b = &recBatch{}
		}
		for size := 0; len(b.recs) < prefetchBatch && len(b.flat) < prefetchCells && size < prefetchBytes; {
			rec, err := p.inner.Next()
			if err != nil {
				b.err = err
				break
			}
			start := len(b.flat)
			for _, v := range rec {
				size += len(v)
			}
			b.flat = append(b.flat, rec...) // the inner reader reuses its slice
			b.recs = append(b.recs, b.flat[start:len(b.flat):len(b.flat)])
			b.rows = append(b.rows, p.inner.Row())
			b.offs = append(b.offs, p.inner.Offset())
		}
		select {
		case p.ch <- b:
		case <-p.done:
			return
		}
		if b.err != nil {
			return
		}
	}
}

// Next returns the next record; it stays valid until the following call.
func (p *prefetch) Next() ([]string, error) {
	for {
		if b := p.cur; b != nil {
			if p.i < len(b.recs) {
				rec := b.recs[p.i]
				p.row, p.off = b.rows[p.i], b.offs[p.i]
				p.i++
				return rec, nil
			}
			if b.err != nil {
				return nil, b.err // sticky, like the inner reader's
			}
			select {
			case p.free <- b:
			default:
			}
			p.cur = nil
		}
		b, ok := <-p.ch
		if !ok {
			return nil, io.ErrClosedPipe
		}
		p.cur, p.i = b, 0
	}
}

func (p *prefetch) Row() int64     { return p.row }
func (p *prefetch) Offset() int64  { return p.off }
func (p *prefetch) Keys() []string { return p.inner.Keys() }

// Close stops the reading goroutine and closes the source.
func (p *prefetch) Close() error {
	var err error
	p.once.Do(func() {
		close(p.done)
		err = p.inner.Close()
		p.wg.Wait()
	})
	return err
}

package ingest

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"sort"
)

// The duplicate and key-conflict checks ("one data, one source", A-12) run
// on every row however large the file: during the scan each row leaves a
// 24-byte record (key hash, row hash, data index, row number); records are
// sorted in runs that fit the memory budget, spilled to disk, and merged.
// The conversion pass then only looks up a bitmap.

type dedupRec struct {
	key, row uint64
	idx, num uint32 // data-row index (both passes count alike) and source row number
}

const dedupRecSize = 24

type dedupSorter struct {
	dir  string
	buf  []dedupRec
	max  int
	runs []string
}

func newDedupSorter(dir string, budgetBytes int64) *dedupSorter {
	max := int(budgetBytes / dedupRecSize)
	if max < 1024 {
		max = 1024
	}
	return &dedupSorter{dir: dir, max: max, buf: make([]dedupRec, 0, min(max, 1<<16))}
}

func (d *dedupSorter) add(r dedupRec) error {
	d.buf = append(d.buf, r)
	if len(d.buf) >= d.max {
		return d.spill()
	}
	return nil
}

func less(a, b dedupRec) bool {
	if a.key != b.key {
		return a.key < b.key
	}
	return a.idx < b.idx
}

func (d *dedupSorter) spill() error {
	sort.Slice(d.buf, func(i, j int) bool { return less(d.buf[i], d.buf[j]) })
	f, err := os.CreateTemp(d.dir, "dedup-*")
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	var b [dedupRecSize]byte
	for _, r := range d.buf {
		binary.LittleEndian.PutUint64(b[0:], r.key)
		binary.LittleEndian.PutUint64(b[8:], r.row)
		binary.LittleEndian.PutUint32(b[16:], r.idx)
		binary.LittleEndian.PutUint32(b[20:], r.num)
		w.Write(b[:])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	d.runs = append(d.runs, f.Name())
	d.buf = d.buf[:0]
	return f.Close()
}

// cleanup removes the spilled runs.
func (d *dedupSorter) cleanup() {
	for _, r := range d.runs {
		os.Remove(r)
	}
	d.runs = nil
}

type runReader struct {
	r   *bufio.Reader
	f   *os.File
	cur dedupRec
}

func (rr *runReader) next() (bool, error) {
	var b [dedupRecSize]byte
	if _, err := io.ReadFull(rr.r, b[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, fmt.Errorf("duplicate check: %w", err)
	}
	rr.cur = dedupRec{binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint32(b[16:]), binary.LittleEndian.Uint32(b[20:])}
	return true, nil
}

type runHeap []*runReader

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return less(h[i].cur, h[j].cur) }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// dedupResult is what the conversion pass needs.
type dedupResult struct {
	dup       []uint64         // bitmap by data index: an exact repeat of an earlier row
	conflict  []uint64         // bitmap: same key as an earlier row, other content
	first     map[uint32]int64 // data index → source row it repeats or conflicts with (first ones only)
	dups      int64
	conflictN int64
}

func (r *dedupResult) is(bits []uint64, idx uint32) bool {
	w := int(idx / 64)
	return w < len(bits) && bits[w]&(1<<(idx%64)) != 0
}

func set(bits []uint64, idx uint32) { bits[idx/64] |= 1 << (idx % 64) }

// finish merges the runs. With keys, a record with an earlier record's key
// is a duplicate when the content is equal and a conflict otherwise;
// without keys the key is the row hash, so only duplicates arise.
func (d *dedupSorter) finish(rows int64, maxFirst int) (*dedupResult, error) {
	defer d.cleanup()
	if len(d.buf) > 0 || len(d.runs) == 0 {
		if err := d.spill(); err != nil {
			return nil, err
		}
	}
	d.buf = nil
	res := &dedupResult{dup: make([]uint64, rows/64+1), conflict: make([]uint64, rows/64+1), first: map[uint32]int64{}}
	h := &runHeap{}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, name := range d.runs {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		rr := &runReader{r: bufio.NewReaderSize(f, 64<<10), f: f}
		ok, err := rr.next()
		if err != nil {
			return nil, err
		}
		if ok {
			*h = append(*h, rr)
		}
	}
	heap.Init(h)
	var head dedupRec
	haveHead := false
	for h.Len() > 0 {
		rr := (*h)[0]
		cur := rr.cur
		if haveHead && cur.key == head.key {
			if cur.row == head.row {
				set(res.dup, cur.idx)
				res.dups++
			} else {
				set(res.conflict, cur.idx)
				res.conflictN++
			}
			if len(res.first) < maxFirst {
				res.first[cur.idx] = int64(head.num)
			}
		} else {
			head, haveHead = cur, true
		}
		ok, err := rr.next()
		if err != nil {
			return nil, err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return res, nil
}

// dedupTable is the one-pass form of the same checks, for files whose rows
// fit the memory budget: the first row of every key in an open-addressing
// hash table, consulted in file order. Its verdicts equal the sort's: a
// later row with a key already seen is a duplicate when its content equals
// the first row's and a conflict otherwise.
type dedupTable struct {
	keys  []uint64 // 0: empty slot
	rows  []uint64 // the first row's content hash; nil without key columns (the key is the row hash)
	nums  []uint32 // the first row's number
	n     int
	limit int    // slots the memory budget allows
	seed  uint64 // spreads slots so crafted keys cannot pile up in one run
}

const tableLoadPct = 70

func dedupSlotBytes(withRows bool) int64 {
	if withRows {
		return 20
	}
	return 12
}

// newDedupTable sizes a table for about expected rows; ok is false when
// they would not fit the budget.
func newDedupTable(expected int64, budget int64, withRows bool, seed uint64) (t *dedupTable, ok bool) {
	limit := budget / dedupSlotBytes(withRows)
	want := max(1024, expected*100/tableLoadPct+1)
	if want > limit {
		return nil, false
	}
	t = &dedupTable{limit: int(limit), seed: seed | 1, keys: make([]uint64, want), nums: make([]uint32, want)}
	if withRows {
		t.rows = make([]uint64, want)
	}
	return t, true
}

func (t *dedupTable) slot(key uint64) int {
	hi, _ := bits.Mul64((key^t.seed)*0x9e3779b97f4a7c15, uint64(len(t.keys)))
	return int(hi)
}

// check records the row (or finds its key) and returns its verdict and the
// first row of the key; fits is false when the table would outgrow the budget.
func (t *dedupTable) check(key, row uint64, num uint32) (verdict uint8, first int64, fits bool) {
	if key == 0 {
		key = 1
	}
	if (t.n+1)*100 > len(t.keys)*tableLoadPct && !t.grow() {
		return 0, 0, false
	}
	for i := t.slot(key); ; {
		switch t.keys[i] {
		case 0:
			t.keys[i], t.nums[i] = key, num
			if t.rows != nil {
				t.rows[i] = row
			}
			t.n++
			return 0, 0, true
		case key:
			if t.rows == nil || t.rows[i] == row {
				return ddDup, int64(t.nums[i]), true
			}
			return ddConflict, int64(t.nums[i]), true
		}
		if i++; i == len(t.keys) {
			i = 0
		}
	}
}

func (t *dedupTable) grow() bool {
	slots := min(t.limit, 2*len(t.keys))
	if (t.n+1)*100 > slots*tableLoadPct {
		return false
	}
	keys, rows, nums := t.keys, t.rows, t.nums
	t.keys, t.nums = make([]uint64, slots), make([]uint32, slots)
	if rows != nil {
		t.rows = make([]uint64, slots)
	}
	for j, k := range keys {
		if k == 0 {
			continue
		}
		i := t.slot(k)
		for t.keys[i] != 0 {
			if i++; i == slots {
				i = 0
			}
		}
		t.keys[i], t.nums[i] = k, nums[j]
		if rows != nil {
			t.rows[i] = rows[j]
		}
	}
	return true
}

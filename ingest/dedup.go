package ingest

import "math/bits"

// hashSet is an open-addressing set of 64-bit row hashes sized once from
// the known row count and capped by a memory budget; when full it stops
// tracking and says so (complete = false) rather than growing past budget.
type hashSet struct {
	slots    []uint64
	used     int
	limit    int
	complete bool
}

func newHashSet(rows int64, budgetBytes int64) *hashSet {
	n := int64(float64(rows)/0.7) + 16
	if max := budgetBytes / 8; n > max {
		n = max
	}
	return &hashSet{slots: make([]uint64, n), limit: int(float64(n) * 0.7), complete: true}
}

// add returns true when h was already present.
func (s *hashSet) add(h uint64) bool {
	if h == 0 {
		h = 1 // 0 marks an empty slot
	}
	if s.used >= s.limit {
		s.complete = false
		// Still answer for what is stored.
		return s.find(h)
	}
	hi, _ := bits.Mul64(h, uint64(len(s.slots)))
	for i := hi; ; i++ {
		if i == uint64(len(s.slots)) {
			i = 0
		}
		switch s.slots[i] {
		case 0:
			s.slots[i] = h
			s.used++
			return false
		case h:
			return true
		}
	}
}

func (s *hashSet) find(h uint64) bool {
	hi, _ := bits.Mul64(h, uint64(len(s.slots)))
	for i := hi; ; i++ {
		if i == uint64(len(s.slots)) {
			i = 0
		}
		switch s.slots[i] {
		case 0:
			return false
		case h:
			return true
		}
	}
}

// keyMap remembers, per record key, the hash of the record's content and
// the row it came from: a second record with the same key and other content
// is a conflict ("one data, one source", A-12).
type keyMap struct {
	keys     []uint64
	vals     []uint64
	rows     []uint32
	used     int
	limit    int
	complete bool
}

func newKeyMap(rows int64, budgetBytes int64) *keyMap {
	n := int64(float64(rows)/0.7) + 16
	if max := budgetBytes / 20; n > max {
		n = max
	}
	return &keyMap{keys: make([]uint64, n), vals: make([]uint64, n), rows: make([]uint32, n), limit: int(float64(n) * 0.7), complete: true}
}

// put returns the earlier row and whether its content differed, when the
// key was seen before; seen is false for a new key.
func (m *keyMap) put(k, v uint64, row int64) (prevRow int64, same bool, seen bool) {
	if k == 0 {
		k = 1
	}
	hi, _ := bits.Mul64(k, uint64(len(m.keys)))
	for i := hi; ; i++ {
		if i == uint64(len(m.keys)) {
			i = 0
		}
		switch m.keys[i] {
		case 0:
			if m.used >= m.limit {
				m.complete = false
				return 0, false, false
			}
			m.keys[i], m.vals[i], m.rows[i] = k, v, uint32(row)
			m.used++
			return 0, false, false
		case k:
			return int64(m.rows[i]), m.vals[i] == v, true
		}
	}
}

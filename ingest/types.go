package ingest

import (
	"strconv"
	"strings"
	"time"

	"github.com/zeebo/xxh3"

	"opendata/catalog"
)

// normNumber strips thousands separators ("1,200.50"), surrounding spaces,
// full-width digits and a leading "+"; it returns "" when s is not a plain
// decimal number.
func normNumber(s string) string {
	if s == "" {
		return ""
	}
	// Fast path: ASCII digits with at most one dot and a sign.
	simple := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || (i == 0 && (c == '-' || c == '+'))) {
			simple = false
			break
		}
	}
	if simple {
		s = strings.TrimPrefix(s, "+")
		if s == "" || s == "-" || s == "." || strings.Count(s, ".") > 1 {
			return ""
		}
		return s
	}
	var buf [40]byte
	b := buf[:0]
	digitsSinceComma, sawComma, sawDot, sawDigit := 0, false, false, false
	for i, r := range s {
		switch {
		case r >= '０' && r <= '９':
			r = r - '０' + '0'
			fallthrough
		case r >= '0' && r <= '9':
			b = append(b, byte(r))
			sawDigit = true
			if sawComma && !sawDot {
				digitsSinceComma++
			}
		case r == ',' || r == '，':
			if sawDot || !sawDigit || (sawComma && digitsSinceComma != 3) {
				return ""
			}
			sawComma, digitsSinceComma = true, 0
		case r == '.' || r == '．':
			if sawDot || (sawComma && digitsSinceComma != 3) {
				return ""
			}
			sawDot = true
			b = append(b, '.')
		case (r == '-' || r == '+') && i == 0:
			if r == '-' {
				b = append(b, '-')
			}
		default:
			return ""
		}
	}
	if sawComma && !sawDot && digitsSinceComma != 3 {
		return ""
	}
	if !sawDigit {
		return ""
	}
	return string(b)
}

func parseInt(s string) (int64, bool) {
	n := normNumber(s)
	if n == "" || strings.Contains(n, ".") {
		return 0, false
	}
	v, err := strconv.ParseInt(n, 10, 64)
	return v, err == nil
}

func parseDecimal(s string) (float64, bool) {
	n := normNumber(s)
	if n == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(n, 64)
	return v, err == nil
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "t", "yes", "y", "是", "有", "√":
		return true, true
	case "false", "f", "no", "n", "否", "无", "×":
		return false, true
	}
	return false, false
}

// scanDigits reads 1..max ASCII digits at s[i:].
func scanDigits(s string, i, max int) (v, next int, ok bool) {
	j := i
	for j < len(s) && j-i < max && s[j] >= '0' && s[j] <= '9' {
		v = v*10 + int(s[j]-'0')
		j++
	}
	return v, j, j > i
}

// scanYMD reads a date at the start of s in the spellings departments use:
// 2006-01-02, 2006/1/2, 2006.1.2, 2006年1月2日. It returns the index after it.
func scanYMD(s string) (y, m, d, next int, ok bool) {
	if len(s) < 8 {
		return
	}
	var i int
	if y, i, ok = scanDigits(s, 0, 4); !ok || i != 4 {
		return 0, 0, 0, 0, false
	}
	var sep byte
	chinese := false
	switch {
	case s[i] == '-' || s[i] == '/' || s[i] == '.':
		sep = s[i]
		i++
	case strings.HasPrefix(s[i:], "年"):
		chinese = true
		i += len("年")
	default:
		return 0, 0, 0, 0, false
	}
	if m, i, ok = scanDigits(s, i, 2); !ok || i >= len(s) {
		return 0, 0, 0, 0, false
	}
	if chinese {
		if !strings.HasPrefix(s[i:], "月") {
			return 0, 0, 0, 0, false
		}
		i += len("月")
	} else {
		if s[i] != sep {
			return 0, 0, 0, 0, false
		}
		i++
	}
	if d, i, ok = scanDigits(s, i, 2); !ok {
		return 0, 0, 0, 0, false
	}
	if chinese && strings.HasPrefix(s[i:], "日") {
		i += len("日")
	}
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, 0, 0, 0, false
	}
	return y, m, d, i, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseDate accepts the common Chinese and ISO date spellings. The result is
// days since the Unix epoch.
func parseDate(s string) (int32, bool) {
	y, m, d, n, ok := scanYMD(s)
	if !ok || n != len(s) {
		return 0, false
	}
	return int32(time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400), true
}

// parseTimestamp accepts a date followed by a time (space or T, H:MM with
// optional seconds and fraction) and an optional zone (Z, ±hh:mm, ±hhmm);
// times without a zone are in loc. The result is microseconds since the
// epoch.
func parseTimestamp(s string, loc *time.Location) (int64, bool) {
	y, mo, d, i, ok := scanYMD(s)
	if !ok || i >= len(s) || (s[i] != ' ' && s[i] != 'T') {
		return 0, false
	}
	i++
	var h, mi, sec, nanos int
	if h, i, ok = scanDigits(s, i, 2); !ok || i >= len(s) || s[i] != ':' {
		return 0, false
	}
	if mi, i, ok = scanDigits(s, i+1, 2); !ok || i-len(s) > 0 {
		return 0, false
	}
	if i < len(s) && s[i] == ':' {
		if sec, i, ok = scanDigits(s, i+1, 2); !ok {
			return 0, false
		}
		if i < len(s) && s[i] == '.' {
			j := i + 1
			frac, digits := 0, 0
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				if digits < 9 {
					frac = frac*10 + int(s[j]-'0')
					digits++
				}
				j++
			}
			if j == i+1 {
				return 0, false
			}
			for ; digits < 9; digits++ {
				frac *= 10
			}
			nanos, i = frac, j
		}
	}
	if h > 23 || mi > 59 || sec > 60 {
		return 0, false
	}
	zone := loc
	if i < len(s) {
		rest := s[i:]
		switch {
		case rest == "Z":
			zone = time.UTC
		case (rest[0] == '+' || rest[0] == '-') && (len(rest) == 6 && rest[3] == ':' || len(rest) == 5):
			zh, _, ok1 := scanDigits(rest, 1, 2)
			zm, _, ok2 := scanDigits(rest, len(rest)-2, 2)
			if !ok1 || !ok2 || zh > 14 || zm > 59 {
				return 0, false
			}
			off := zh*3600 + zm*60
			if rest[0] == '-' {
				off = -off
			}
			zone = time.FixedZone("", off)
		default:
			return 0, false
		}
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, nanos, zone).UnixMicro(), true
}

// typeSet tracks which types every value of a column seen so far fits.
type typeSet uint8

const (
	fitInt typeSet = 1 << iota
	fitDecimal
	fitBool
	fitDate
	fitTimestamp
	fitAll = fitInt | fitDecimal | fitBool | fitDate | fitTimestamp
)

// fits returns the set of types value v parses as, and its number when it
// fits decimal.
func fits(v string, loc *time.Location) (typeSet, float64) {
	var t typeSet
	var num float64
	c := v[0]
	// Only digits, a sign, a dot or a full-width digit (０-９ start with EF BC) can start a number or date.
	if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || (c == 0xEF && len(v) > 2 && v[1] == 0xBC) {
		if n, ok := parseInt(v); ok {
			// A leading zero ("007", "0371…") is an identifier, not a number.
			if !(len(v) > 1 && v[0] == '0') {
				t |= fitInt | fitDecimal
				num = float64(n)
			}
		} else if f, ok := parseDecimal(v); ok {
			if !(len(v) > 1 && v[0] == '0' && v[1] != '.') {
				t |= fitDecimal
				num = f
			}
		}
		if t == 0 && len(v) >= 8 && v[0] >= '0' && v[0] <= '9' {
			if _, ok := parseDate(v); ok {
				t |= fitDate
			} else if _, ok := parseTimestamp(v, loc); ok {
				t |= fitTimestamp
			}
		}
	}
	if t == 0 {
		if _, ok := parseBool(v); ok {
			t |= fitBool
		}
	}
	return t, num
}

// inference accumulates a column's evidence during the scan.
type inference struct {
	detectCount
	sample   map[uint64]struct{} // hashes of the distinct values among the first sampleRows
	sampled  int
	dead     bool     // no type but string can win any more: stop testing
	counts   [5]int64 // int, decimal, bool, date, timestamp
	markers  int64    // null markers (未填报, —) that fit no type: they do not count against a typed column
	maxBytes int
	// For the total-row check: the sum of the numbers, and whether they vary.
	sum         float64
	first       float64
	nums        int64
	varied      bool
	sumDeclared bool // a declared number column (dead from the start): still add up
}

// addNum counts a number of the column for the total-row check.
func (in *inference) addNum(f float64) {
	in.sum += f
	if in.nums == 0 {
		in.first = f
	} else if f != in.first {
		in.varied = true
	}
	in.nums++
}

func (in *inference) add(v string, loc *time.Location, nm *nullMarkers) {
	if v == "" {
		return
	}
	in.detectCount.add(v)
	if in.sampled < sampleRows {
		if in.sample == nil {
			in.sample = map[uint64]struct{}{}
		}
		in.sampled++
		// Hashes, not the values: the set costs the same for long texts.
		if len(in.sample) < sampleRows/2 {
			in.sample[xxh3.HashString(v)] = struct{}{}
		}
	}
	if len(v) > in.maxBytes {
		in.maxBytes = len(v)
	}
	if in.sumDeclared {
		if f, ok := parseDecimal(v); ok {
			in.addNum(f)
		}
	}
	if !in.dead {
		t, num := fits(v, loc)
		if t&fitDecimal != 0 {
			in.addNum(num)
		}
		if t&^fitBool == 0 && nm.match(v) >= 0 { // 无 is also "no"
			in.markers++
		}
		for i := 0; i < 5; i++ {
			if t&(1<<i) != 0 {
				in.counts[i]++
			}
		}
		// More misses than the tolerance can ever forgive (at most 1000):
		// the column is text whatever comes later.
		if in.nonEmpty&1023 == 0 {
			dead := true
			for i := 0; i < 5; i++ {
				if in.nonEmpty-in.markers-in.counts[i] <= 1000 {
					dead = false
				}
			}
			in.dead = dead
		}
	}
}

const sampleRows = 4096

// lowCardinality reports whether the sampled values repeat enough for a
// Parquet dictionary to help (fewer distinct values than half the sample).
func (in *inference) lowCardinality() bool {
	return in.sampled == 0 || len(in.sample)*2 < in.sampled
}

// tolerated is how many cells may fail an inferred type before the column
// falls back to string: a few typos should be reported as errors for those
// cells, not turn a numeric column into text.
func tolerated(n int64) int64 {
	t := n / 100
	if t == 0 && n >= 20 {
		t = 1
	}
	if t > 1000 {
		t = 1000
	}
	return t
}

// decide picks the narrowest type that (nearly) every value fits.
func (in *inference) decide() catalog.ColumnType {
	if in.nonEmpty == 0 {
		return catalog.ColString
	}
	switch in.detected() {
	case KindIDNumber, KindMobile, KindCreditCode, KindBankCard:
		return catalog.ColString // digits that are no number
	}
	// Null markers count for neither side of a number or date column
	// (where they are read as null); a yes/no column takes 无 as a value.
	filled := in.nonEmpty - in.markers
	tol := tolerated(filled)
	order := []struct {
		idx int
		typ catalog.ColumnType
	}{{0, catalog.ColInt}, {1, catalog.ColDecimal}, {3, catalog.ColDate}, {4, catalog.ColTimestamp}, {2, catalog.ColBool}}
	for _, o := range order {
		if o.idx == 2 {
			filled, tol = in.nonEmpty, tolerated(in.nonEmpty)
		}
		if filled-in.counts[o.idx] <= tol && in.counts[o.idx] > 0 {
			return o.typ
		}
	}
	return catalog.ColString
}

// detectCount counts the values that look like personal data or codes:
// the scan's inference and, in the one-read conversion, every worker keep one.
type detectCount struct{ nonEmpty, idLike, mobile, credit, bank, email, landline int64 }

func (d *detectCount) add(v string) {
	if v == "" {
		return
	}
	d.nonEmpty++
	switch n := len(v); {
	case n == 18:
		if looksLikeIDNumber(v) {
			d.idLike++
		} else if looksLikeCreditCode(v) {
			d.credit++
		} else if ValidBankCard(v) {
			d.bank++
		}
	case n >= 11 && n <= 14 && ValidMobile(v):
		d.mobile++
	case n >= 16 && n <= 19 && v[0] >= '1' && v[0] <= '9':
		if ValidBankCard(v) {
			d.bank++
		}
	case n >= 10 && n <= 24 && (v[0] == '0' || v[0] == '(' || v[0] == 0xEF) && looksLikeLandline(v):
		d.landline++
	}
	if len(v) >= 6 && len(v) <= 254 && looksLikeEmail(v) {
		d.email++
	}
}

// merge adds another count of the same column.
func (d *detectCount) merge(o detectCount) {
	d.nonEmpty += o.nonEmpty
	d.idLike += o.idLike
	d.mobile += o.mobile
	d.credit += o.credit
	d.bank += o.bank
	d.email += o.email
	d.landline += o.landline
}

// detected names the personal or code kind the column's values look like
// (at least 80 % of the filled cells).
func (d *detectCount) detected() string {
	if d.nonEmpty == 0 {
		return ""
	}
	most := func(n int64) bool { return n*10 >= d.nonEmpty*8 }
	switch {
	case most(d.idLike):
		return KindIDNumber
	case most(d.mobile):
		return KindMobile
	case most(d.credit):
		return KindCreditCode
	case most(d.bank):
		return KindBankCard
	case most(d.email):
		return KindEmail
	case most(d.landline + d.mobile):
		return KindPhone
	}
	return ""
}

package ingest

import (
	"strconv"
	"strings"
	"time"
)

// Column types. They match catalog.ItemTypes.
const (
	TString    = "string"
	TInt       = "int"
	TDecimal   = "decimal"
	TBool      = "bool"
	TDate      = "date"
	TTimestamp = "timestamp"
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
	var b strings.Builder
	digitsSinceComma, sawComma, sawDot, sawDigit := 0, false, false, false
	for i, r := range s {
		switch {
		case r >= '０' && r <= '９':
			r = r - '０' + '0'
			fallthrough
		case r >= '0' && r <= '9':
			b.WriteRune(r)
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
			b.WriteByte('.')
		case (r == '-' || r == '+') && i == 0:
			if r == '-' {
				b.WriteByte('-')
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
	return b.String()
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

var dateLayouts = []string{"2006-01-02", "2006/01/02", "2006.01.02", "2006-1-2", "2006/1/2", "2006.1.2", "2006年1月2日", "2006年01月02日"}

var tsLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006/01/02 15:04:05", "2006-1-2 15:04:05",
	"2006/1/2 15:04:05", "2006-01-02 15:04", "2006/1/2 15:04", "2006-1-2 15:04", "2006年1月2日 15:04:05", "2006年1月2日 15:04",
	"2006-01-02 15:04:05.000",
}

// parseDate accepts the common Chinese and ISO date spellings. The result is
// days since the Unix epoch.
func parseDate(s string) (int32, bool) {
	if len(s) < 8 || len(s) > 20 || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return int32(t.Unix() / 86400), true
		}
	}
	return 0, false
}

// parseTimestamp accepts ISO and Chinese date-times; times without a zone
// are in loc. The result is microseconds since the epoch (UTC).
func parseTimestamp(s string, loc *time.Location) (int64, bool) {
	if len(s) < 14 || len(s) > 40 || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	for _, l := range tsLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t.UnixMicro(), true
		}
	}
	return 0, false
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

// fits returns the set of types value v parses as.
func fits(v string, loc *time.Location) typeSet {
	var t typeSet
	c := v[0]
	if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c >= 0x80 {
		if _, ok := parseInt(v); ok {
			// A leading zero ("007", "0371…") is an identifier, not a number.
			if !(len(v) > 1 && v[0] == '0') {
				t |= fitInt | fitDecimal
			}
		} else if _, ok := parseDecimal(v); ok {
			if !(len(v) > 1 && v[0] == '0' && v[1] != '.') {
				t |= fitDecimal
			}
		}
		if t == 0 {
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
	return t
}

// inference accumulates a column's evidence during the scan.
type inference struct {
	nonEmpty  int64
	counts    [5]int64 // int, decimal, bool, date, timestamp
	idLike    int64
	mobile    int64
	credit    int64
	maxBytes  int
	firstBad  [5]int64
	sampleBad [5]string
}

func (in *inference) add(v string, loc *time.Location) {
	if v == "" {
		return
	}
	in.nonEmpty++
	if len(v) > in.maxBytes {
		in.maxBytes = len(v)
	}
	t := fits(v, loc)
	for i := 0; i < 5; i++ {
		if t&(1<<i) != 0 {
			in.counts[i]++
		}
	}
	if len(v) == 18 {
		if looksLikeIDNumber(v) {
			in.idLike++
		} else if looksLikeCreditCode(v) {
			in.credit++
		}
	} else if len(v) >= 11 && len(v) <= 14 && ValidMobile(v) {
		in.mobile++
	}
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
func (in *inference) decide() string {
	if in.nonEmpty == 0 {
		return TString
	}
	if in.idLike*10 >= in.nonEmpty*8 || in.mobile*10 >= in.nonEmpty*8 || in.credit*10 >= in.nonEmpty*8 {
		return TString
	}
	tol := tolerated(in.nonEmpty)
	order := []struct {
		idx int
		typ string
	}{{0, TInt}, {1, TDecimal}, {3, TDate}, {4, TTimestamp}, {2, TBool}}
	for _, o := range order {
		if in.nonEmpty-in.counts[o.idx] <= tol && in.counts[o.idx] > 0 {
			return o.typ
		}
	}
	return TString
}

// detected names the personal or code kind the column's values look like.
func (in *inference) detected() string {
	if in.nonEmpty == 0 {
		return ""
	}
	switch {
	case in.idLike*10 >= in.nonEmpty*8:
		return "id_number"
	case in.mobile*10 >= in.nonEmpty*8:
		return "mobile"
	case in.credit*10 >= in.nonEmpty*8:
		return "credit_code"
	}
	return ""
}

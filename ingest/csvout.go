package ingest

import (
	"unicode"
	"unicode/utf8"

	"opendata/csvsafe"
)

// appendCSVRecord appends one record to buf as encoding/csv's Writer
// (comma delimiter, UseCRLF) would write it, but for line breaks inside a
// quoted field, kept exactly as read, and without its per-field overhead: the conversion workers format their batches' open.csv text in
// parallel and the file receives the bytes in order. open.csv is made for
// spreadsheets, so each field first goes through csvsafe.Cell (a cell that
// a spreadsheet would run as a formula gets a leading apostrophe; the
// Parquet variants keep the exact value).
func appendCSVRecord(buf []byte, rec []string) []byte {
	for i, f := range rec {
		f = csvsafe.Cell(f)
		if i > 0 {
			buf = append(buf, ',')
		}
		if !csvNeedsQuotes(f) {
			buf = append(buf, f...)
			continue
		}
		buf = append(buf, '"')
		for j := 0; j < len(f); j++ {
			// A line break inside the quotes stays the bytes it was: encoding/csv's
			// Writer with UseCRLF turned \n into \r\n and dropped a bare \r, so
			// open.csv differed from the value read and from the Parquet variants.
			if c := f[j]; c == '"' {
				buf = append(buf, '"', '"')
			} else {
				buf = append(buf, c)
			}
		}
		buf = append(buf, '"')
	}
	return append(buf, '\r', '\n')
}

// hasByte is non-zero when one of x's eight bytes equals b (the classic
// "has zero byte" test on x XOR b repeated).
func hasByte(x uint64, b byte) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	y := x ^ (lo * uint64(b))
	return (y - lo) &^ y & hi
}

// csvNeedsQuotes mirrors encoding/csv's fieldNeedsQuotes for a comma.
func csvNeedsQuotes(f string) bool {
	if f == "" {
		return false
	}
	if f == `\.` {
		return true
	}
	i := 0
	for ; i+8 <= len(f); i += 8 {
		// Eight bytes at a time: is any of them a quote, comma, CR or LF?
		x := uint64(f[i]) | uint64(f[i+1])<<8 | uint64(f[i+2])<<16 | uint64(f[i+3])<<24 |
			uint64(f[i+4])<<32 | uint64(f[i+5])<<40 | uint64(f[i+6])<<48 | uint64(f[i+7])<<56
		if hasByte(x, '"')|hasByte(x, ',')|hasByte(x, '\r')|hasByte(x, '\n') != 0 {
			return true
		}
	}
	for ; i < len(f); i++ {
		switch f[i] {
		case '"', ',', '\r', '\n':
			return true
		}
	}
	if c := f[0]; c < utf8.RuneSelf {
		return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == 0x85 || c == 0xA0
	}
	r, _ := utf8.DecodeRuneInString(f)
	return unicode.IsSpace(r)
}

package ingest

import (
	"unicode"
	"unicode/utf8"
)

// appendCSVRecord appends one record to buf exactly as encoding/csv's
// Writer (comma delimiter, UseCRLF) would write it, without its per-field
// overhead: the conversion workers format their batches' open.csv text in
// parallel and the file receives the bytes in order.
func appendCSVRecord(buf []byte, rec []string) []byte {
	for i, f := range rec {
		if i > 0 {
			buf = append(buf, ',')
		}
		if !csvNeedsQuotes(f) {
			buf = append(buf, f...)
			continue
		}
		buf = append(buf, '"')
		for j := 0; j < len(f); j++ {
			switch c := f[j]; c {
			case '"':
				buf = append(buf, '"', '"')
			case '\r':
				// With CRLF line ends a bare \r is dropped and \n becomes \r\n.
			case '\n':
				buf = append(buf, '\r', '\n')
			default:
				buf = append(buf, c)
			}
		}
		buf = append(buf, '"')
	}
	return append(buf, '\r', '\n')
}

// csvNeedsQuotes mirrors encoding/csv's fieldNeedsQuotes for a comma.
func csvNeedsQuotes(f string) bool {
	if f == "" {
		return false
	}
	if f == `\.` {
		return true
	}
	for i := 0; i < len(f); i++ {
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

package ingest

import (
	"fmt"
	"strings"

	"opendata/catalog"
)

// trimCell removes surrounding white space, the ideographic space (U+3000)
// included.
func trimCell(s string) string {
	if s == "" || !maybeSpaceAt(s, 0) && !maybeSpaceAt(s, lastRuneStart(s)) {
		return s // the common case, decided from two bytes
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "\u3000") || strings.HasSuffix(s, "\u3000") {
		s = strings.Trim(s, " \t\u3000")
	}
	return s
}

// maybeSpaceAt reports whether the rune starting at s[i] may be white
// space: an ASCII space or a rune whose UTF-8 lead byte is shared with one
// (U+0085, U+00A0, U+1680, U+2000–U+205F, U+3000). Han characters and
// other text lead with different bytes.
func maybeSpaceAt(s string, i int) bool {
	switch c := s[i]; {
	case c < 0x80:
		return c == ' ' || c >= '\t' && c <= '\r'
	case c == 0xC2 || c == 0xE1 || c == 0xE2 || c == 0xE3:
		return true
	}
	return false
}

// lastRuneStart is the index of the last rune's first byte.
func lastRuneStart(s string) int {
	i := len(s) - 1
	for j := 0; j < 3 && i > 0 && s[i]&0xC0 == 0x80; j++ {
		i--
	}
	return i
}

func nonEmpty(rec []string) int {
	n := 0
	for _, v := range rec {
		if trimCell(v) != "" {
			n++
		}
	}
	return n
}

// pickHeader chooses the header among the first records: the first one that
// names most declared items, or else the first that is about as wide as the
// widest. Rows above it are title rows.
func pickHeader(buf [][]string, items []catalog.Item) int {
	if len(items) > 0 {
		names := map[string]bool{}
		for _, it := range items {
			names[it.Name] = true
		}
		for i, rec := range buf {
			hit := 0
			for _, v := range rec {
				if names[trimCell(v)] {
					hit++
				}
			}
			if ne := nonEmpty(rec); ne > 0 && hit*2 >= ne {
				return i
			}
		}
	}
	widest := 0
	for _, rec := range buf {
		widest = max(widest, nonEmpty(rec))
	}
	for i, rec := range buf {
		if ne := nonEmpty(rec); ne > 0 && ne*10 >= widest*6 {
			return i
		}
	}
	return 0
}

func cleanHeader(rec []string) []string {
	out := make([]string, len(rec))
	seen := map[string]int{}
	for i, v := range rec {
		v = trimCell(strings.TrimPrefix(v, "\uFEFF"))
		v = strings.Map(func(r rune) rune {
			if r < 0x20 {
				return ' '
			}
			return r
		}, v)
		if v == "" {
			v = fmt.Sprintf("column_%d", i+1)
		}
		if n := seen[v]; n > 0 {
			seen[v] = n + 1
			v = fmt.Sprintf("%s_%d", v, n+1)
		} else {
			seen[v] = 1
		}
		out[i] = v
	}
	// Trailing generated names of empty header cells with no data are trimmed later.
	return out
}

// decideHeader picks the header among the first records (refusing one past
// max_header_kb before anything is sized by it) and feeds the records
// after it to the scan as data.
func (s *scanner) decideHeader() error {
	buf, rows, sr := s.first, s.firstRows, s.sr
	h := pickHeader(buf, s.opt.Items)
	size := 0
	for _, v := range buf[h] {
		size += len(v) + 1
	}
	if size > s.opt.MaxHeaderBytes {
		return overLimit("header_too_large", rows[h], int64(size), int64(s.opt.MaxHeaderBytes), "max_header_kb")
	}
	sr.header = cleanHeader(buf[h])
	sr.skip = h + 1
	sr.headerRow = int64(h + 1)
	for i := 0; i < h; i++ {
		sr.titleRows = append(sr.titleRows, int64(i+1))
	}
	s.headerDone, s.first, s.firstRows = true, nil, nil
	for i, rec := range buf[h+1:] {
		s.addData(rec, rows[h+1+i])
	}
	return nil
}

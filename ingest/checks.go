package ingest

import (
	"strings"
	"unicode/utf8"
)

// ValidIDNumber checks an 18-character resident identity number (GB 11643):
// 17 digits, a valid birth date and the ISO 7064 MOD 11-2 check character.
func ValidIDNumber(s string) bool {
	if len(s) != 18 {
		return false
	}
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		sum += int(c-'0') * weights[i]
	}
	check := "10X98765432"[sum%11]
	last := s[17]
	if last == 'x' {
		last = 'X'
	}
	if last != check {
		return false
	}
	y := int(s[6]-'0')*1000 + int(s[7]-'0')*100 + int(s[8]-'0')*10 + int(s[9]-'0')
	m := int(s[10]-'0')*10 + int(s[11]-'0')
	d := int(s[12]-'0')*10 + int(s[13]-'0')
	return y >= 1900 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m)
}

// looksLikeIDNumber is the shape test used to detect ID columns (the check
// digit is validated separately so a column with some bad digits is still
// recognised and masked).
func looksLikeIDNumber(s string) bool {
	if len(s) != 18 {
		return false
	}
	for i := 0; i < 17; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	c := s[17]
	if !(c >= '0' && c <= '9' || c == 'X' || c == 'x') {
		return false
	}
	y := (int(s[6]-'0')*1000 + int(s[7]-'0')*100 + int(s[8]-'0')*10 + int(s[9]-'0'))
	m := int(s[10]-'0')*10 + int(s[11]-'0')
	return y >= 1900 && y <= 2100 && m >= 1 && m <= 12
}

const creditAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// creditValue maps a byte to its value in creditAlphabet, -1 when absent.
var creditValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(creditAlphabet); i++ {
		t[creditAlphabet[i]] = int8(i)
	}
	return t
}()

// ValidCreditCode checks an 18-character unified social credit code
// (GB 32100): registration authority, type, 6-digit region, 9-character
// organisation code and the MOD 31 check character.
func ValidCreditCode(s string) bool {
	if len(s) != 18 {
		return false
	}
	weights := [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	sum := 0
	for i := 0; i < 17; i++ {
		v := int(creditValue[s[i]])
		if v < 0 {
			return false
		}
		if i >= 2 && i < 8 && (s[i] < '0' || s[i] > '9') {
			return false // region code is numeric
		}
		sum += v * weights[i]
	}
	c := (31 - sum%31) % 31
	return s[17] == creditAlphabet[c]
}

func looksLikeCreditCode(s string) bool {
	if len(s) != 18 {
		return false
	}
	for i := 0; i < 18; i++ {
		if creditValue[s[i]] < 0 {
			return false
		}
	}
	for i := 2; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidMobile checks a mainland mobile number: 11 digits starting 1[3-9],
// optionally prefixed with +86 or 86.
func ValidMobile(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "+86"), "86")
	if len(s) != 11 || s[0] != '1' || s[1] < '3' || s[1] > '9' {
		return false
	}
	for i := 2; i < 11; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Mask hides personal data while keeping enough to recognise a value:
// ID numbers keep region and last 4 (420101********123X), mobiles keep
// 3+4 (138****5678), names keep their first character (张*, 欧***), bank
// cards their first and last four digits, e-mail addresses the first
// character and the domain, landlines the area code and last two digits,
// addresses their first third; anything else keeps its first and last
// quarter (a short value its first character).
func Mask(kind, s string) string {
	if s == "" {
		return ""
	}
	return string(AppendMask(nil, kind, s))
}

// AppendMask appends Mask(kind, s) to dst without allocating on its own.
func AppendMask(dst []byte, kind, s string) []byte {
	switch {
	case s == "":
		return dst
	case kind == "id_number" && len(s) == 18:
		return append(append(append(dst, s[:6]...), "********"...), s[14:]...)
	case kind == "mobile" && len(s) == 11:
		return append(append(append(dst, s[:3]...), "****"...), s[7:]...)
	case kind != "" && kind != "id_number" && kind != "mobile":
		if out, ok := appendMaskKind(dst, kind, s); ok {
			return out
		}
	}
	n := utf8.RuneCountInString(s)
	if n == 1 {
		return append(dst, '*')
	}
	keep, tail := n/4, n/4
	if n <= 4 {
		keep, tail = 1, 0 // the first character, then stars
	}
	for k, i := 0, 0; k < n; k++ {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if k < keep || k >= n-tail {
			dst = utf8.AppendRune(dst, r)
		} else {
			dst = append(dst, '*')
		}
	}
	return dst
}

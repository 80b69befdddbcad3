package ingest

import (
	"strings"
	"unicode/utf8"
)

// Kinds of personal data (and codes) a column can be recognised as. The
// first group is masked in the open variant unless the data item is
// declared not personal; a credit code identifies an organisation and is
// only checked.
const (
	KindIDNumber   = "id_number"
	KindMobile     = "mobile"
	KindCreditCode = "credit_code"
	KindName       = "name"
	KindAddress    = "address"
	KindBankCard   = "bank_card"
	KindEmail      = "email"
	KindPhone      = "phone" // landline numbers, or landlines and mobiles mixed
)

// How a column was recognised.
const (
	ByHeader = "header"
	ByValues = "values"
)

// PersonalKind reports whether data of the kind identifies a person.
func PersonalKind(kind string) bool {
	switch kind {
	case KindIDNumber, KindMobile, KindName, KindAddress, KindBankCard, KindEmail, KindPhone:
		return true
	}
	return false
}

// headerRule is one way a header names personal data: the header, lower
// case and without spaces, contains word (or ends with it, or is it).
type headerRule struct {
	kind  string
	word  string
	match matchMode
}

type matchMode uint8

const (
	contains matchMode = iota
	suffix
	exact
)

// headerRules in the order they are tried: what a column holds about a
// person (负责人身份证, 联系人电话) before who it names (负责人).
var headerRules = []headerRule{
	{KindIDNumber, "身份证", contains}, {KindIDNumber, "公民身份号码", contains}, {KindIDNumber, "身份号码", contains},
	{KindIDNumber, "证件号", contains}, {KindIDNumber, "idcard", contains}, {KindIDNumber, "idnumber", contains},
	{KindMobile, "手机", contains}, {KindMobile, "mobile", contains},
	{KindEmail, "邮箱", contains}, {KindEmail, "电子邮件", contains}, {KindEmail, "电子信箱", contains}, {KindEmail, "email", contains}, {KindEmail, "e-mail", contains},
	{KindBankCard, "银行卡", contains}, {KindBankCard, "银行账号", contains}, {KindBankCard, "银行账户", contains},
	{KindBankCard, "开户账号", contains}, {KindBankCard, "卡号", suffix}, {KindBankCard, "bankcard", contains}, {KindBankCard, "cardnumber", contains},
	{KindPhone, "电话", contains}, {KindPhone, "座机", contains}, {KindPhone, "固话", contains}, {KindPhone, "联系方式", contains},
	{KindPhone, "telephone", contains}, {KindPhone, "phone", contains}, {KindPhone, "tel", exact},
	{KindAddress, "住址", contains}, {KindAddress, "家庭地址", contains}, {KindAddress, "居住地址", contains}, {KindAddress, "户籍地址", contains},
	{KindAddress, "居住地", contains}, {KindAddress, "户籍所在地", contains}, {KindAddress, "homeaddress", contains},
	{KindName, "姓名", contains}, {KindName, "法定代表人", suffix}, {KindName, "法人代表", suffix}, {KindName, "联系人", suffix},
	{KindName, "负责人", suffix}, {KindName, "户主", suffix}, {KindName, "申请人", suffix}, {KindName, "经办人", suffix},
	{KindName, "责任人", suffix}, {KindName, "代理人", suffix}, {KindName, "监护人", suffix}, {KindName, "委托人", suffix},
	{KindName, "持证人", suffix}, {KindName, "业主", suffix}, {KindName, "驾驶人", suffix}, {KindName, "驾驶员", suffix},
	{KindName, "填报人", suffix}, {KindName, "审核人", suffix}, {KindName, "经营者", suffix}, {KindName, "当事人", suffix},
	{KindName, "举报人", suffix}, {KindName, "投诉人", suffix}, {KindName, "收件人", suffix}, {KindName, "患者", suffix},
	{KindName, "fullname", contains}, {KindName, "personname", contains}, {KindName, "contactperson", contains},
	{KindName, "contactname", contains}, {KindName, "legalrepresentative", contains},
}

// HeaderKind is the kind of personal data a column's header names, "" when
// it names none. 负责人身份证 holds an ID number, 联系人电话 a phone, 项目负责人
// a person's name; 企业名称 and 注册地址 name none.
func HeaderKind(header string) string {
	h := strings.ToLower(strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\u3000', '_', '\t':
			return -1
		}
		return r
	}, header))
	for _, r := range headerRules {
		if r.match == contains && strings.Contains(h, r.word) || r.match == suffix && strings.HasSuffix(h, r.word) || h == r.word {
			return r.kind
		}
	}
	return ""
}

// ValidBankCard checks a bank card number: 16 to 19 digits, not starting
// with 0, with a valid Luhn check digit.
func ValidBankCard(s string) bool {
	if len(s) < 16 || len(s) > 19 || s[0] == '0' {
		return false
	}
	sum := 0
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if (len(s)-1-i)%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// looksLikeEmail is the shape of an e-mail address: local@domain.tld,
// without spaces.
func looksLikeEmail(s string) bool {
	if len(s) < 6 || len(s) > 254 {
		return false
	}
	at := strings.IndexByte(s, '@')
	if at < 1 || at != strings.LastIndexByte(s, '@') {
		return false
	}
	dom := s[at+1:]
	dot := strings.LastIndexByte(dom, '.')
	if dot < 1 || dot == len(dom)-1 {
		return false
	}
	return !strings.ContainsAny(s, " \t,;")
}

// looksLikeLandline is the shape of a mainland landline number with its
// area code: 0371-12345678, 010-1234567-801, (010)12345678, （010）12345678.
func looksLikeLandline(s string) bool {
	if len(s) < 10 || len(s) > 24 {
		return false
	}
	var area string
	var rest string
	switch {
	case s[0] == '(':
		i := strings.IndexByte(s, ')')
		if i < 0 {
			return false
		}
		area, rest = s[1:i], s[i+1:]
	case strings.HasPrefix(s, "（"):
		i := strings.Index(s, "）")
		if i < 0 {
			return false
		}
		area, rest = s[len("（"):i], s[i+len("）"):]
	default:
		i := strings.IndexAny(s, "- ")
		if i < 0 {
			return false
		}
		area, rest = s[:i], s[i+1:]
	}
	if len(area) < 3 || len(area) > 4 || area[0] != '0' || !allDigits(area) {
		return false
	}
	rest = strings.TrimLeft(rest, "- ")
	num, ext, hasExt := strings.Cut(rest, "-")
	if len(num) < 7 || len(num) > 8 || num[0] == '0' || !allDigits(num) {
		return false
	}
	return !hasExt || len(ext) >= 1 && len(ext) <= 6 && allDigits(ext)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// appendMaskKind masks the kinds that have a shape of their own; ok false
// leaves the value to the generic rule.
func appendMaskKind(dst []byte, kind, s string) ([]byte, bool) {
	switch kind {
	case KindName:
		// The first character, then a star for each one after it: 张*, 欧阳** → 欧***.
		r, size := utf8.DecodeRuneInString(s)
		dst = utf8.AppendRune(dst, r)
		for range utf8.RuneCountInString(s[size:]) {
			dst = append(dst, '*')
		}
		return dst, true
	case KindBankCard:
		if len(s) < 12 || !allDigits(s) {
			return dst, false
		}
		dst = append(dst, s[:4]...)
		for range len(s) - 8 {
			dst = append(dst, '*')
		}
		return append(dst, s[len(s)-4:]...), true
	case KindEmail:
		at := strings.IndexByte(s, '@')
		if at < 1 {
			return dst, false
		}
		r, size := utf8.DecodeRuneInString(s)
		if size > at {
			return dst, false
		}
		dst = append(utf8.AppendRune(dst, r), "***"...)
		return append(dst, s[at:]...), true
	case KindPhone:
		if len(s) == 11 && ValidMobile(s) {
			return append(append(append(dst, s[:3]...), "****"...), s[7:]...), true
		}
		// Keep the area code and the last two digits: 0371-******78.
		digits := 0
		for i := 0; i < len(s); i++ {
			if s[i] >= '0' && s[i] <= '9' {
				digits++
			}
		}
		if digits < 7 || !utf8.ValidString(s) {
			return dst, false
		}
		areaEnd := strings.IndexAny(s, "-)） ")
		if areaEnd < 0 || areaEnd > 8 {
			areaEnd = 0
		}
		seen := 0
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= '0' && c <= '9' {
				seen++
				if i > areaEnd && seen <= digits-2 {
					c = '*'
				}
			}
			dst = append(dst, c)
		}
		return dst, true
	case KindAddress:
		// The first third (province, city, district), then stars.
		n := utf8.RuneCountInString(s)
		keep := n / 3
		for k, i := 0, 0; k < n; k++ {
			r, size := utf8.DecodeRuneInString(s[i:])
			i += size
			if k < keep {
				dst = utf8.AppendRune(dst, r)
			} else {
				dst = append(dst, '*')
			}
		}
		return dst, true
	}
	return dst, false
}

package ingest

import (
	"strings"
	"testing"
	"time"

	"opendata/catalog"
)

func TestIDNumber(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"11010519491231002X", true}, // the GB 11643 example
		{"11010519491231002x", true},
		{"110105194912310021", false}, // wrong check digit
		{"11010519491331002X", false}, // month 13
		{"1101051949123100", false},
		{"A1010519491231002X", false},
	}
	for _, c := range cases {
		if got := ValidIDNumber(c.in); got != c.want {
			t.Errorf("ValidIDNumber(%q) = %v", c.in, got)
		}
	}
}

func TestCreditCode(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"91350100M000100Y43", true},
		{"91350100M000100Y44", false},
		{"91350100M000100Y4", false},
		{"9135010OM000100Y43", false}, // letter O is not in the alphabet
		{"913501X0M000100Y43", false}, // region must be digits
	}
	for _, c := range cases {
		if got := ValidCreditCode(c.in); got != c.want {
			t.Errorf("ValidCreditCode(%q) = %v", c.in, got)
		}
	}
}

func TestMask(t *testing.T) {
	cases := []struct{ kind, in, want string }{
		{"id_number", "11010519491231002X", "110105********002X"},
		{"mobile", "13812345678", "138****5678"},
		{"", "张三", "张*"},
		{"", "欧阳娜娜", "欧***"},
		{"", "湖北省恩施市舞阳坝街道", "湖北*******街道"},
		{"", "", ""},
	}
	for _, c := range cases {
		if got := Mask(c.kind, c.in); got != c.want {
			t.Errorf("Mask(%q, %q) = %q, want %q", c.kind, c.in, got, c.want)
		}
	}
}

func TestNormNumber(t *testing.T) {
	cases := map[string]string{
		"1,200.50": "1200.50", "1200": "1200", "-3.5": "-3.5", "+7": "7", "１２３": "123",
		"五十": "", "1,20": "", "12,345,678": "12345678", "1.2.3": "", "": "", "-": "", "1,2345": "",
	}
	for in, want := range cases {
		if got := normNumber(in); got != want {
			t.Errorf("normNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInference(t *testing.T) {
	cases := []struct {
		vals []string
		want catalog.ColumnType
	}{
		{[]string{"1", "2", "300"}, catalog.ColInt},
		{[]string{"1", "2.5", "1,200.50"}, catalog.ColDecimal},
		{[]string{"2024-01-02", "2024/3/4", "2024年5月6日"}, catalog.ColDate},
		{[]string{"2024-01-02 10:00:00", "2024-01-03T11:00:00"}, catalog.ColTimestamp},
		{[]string{"是", "否"}, catalog.ColBool},
		{[]string{"007", "008"}, catalog.ColString}, // leading zeros are identifiers
		{[]string{"11010519491231002X", "11010519491231002X"}, catalog.ColString},
		{[]string{"公交", "1"}, catalog.ColString},
		// Null markers count against no type: the column stays a number or a date.
		{[]string{"20", "未填报", "—", "35", "n/a"}, catalog.ColInt},
		{[]string{"20", "无", "35"}, catalog.ColInt},
		{[]string{"2024-01-02", "不详", "/", "2024-03-04"}, catalog.ColDate},
		{[]string{"有", "无", "无"}, catalog.ColBool},
		{[]string{"未填报", "暂无"}, catalog.ColString},
		{[]string{"20", "未知", "35"}, catalog.ColString}, // not a marker
	}
	nm := newNullMarkers(DefaultNullMarkers)
	for _, c := range cases {
		var in inference
		for _, v := range c.vals {
			in.add(v, time.UTC, nm)
		}
		if got := in.decide(); got != c.want {
			t.Errorf("%v: got %s, want %s", c.vals, got, c.want)
		}
	}
}

func TestParseDateAndTimestamp(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	dates := map[string]string{
		"2024-01-31": "2024-01-31", "2024/1/2": "2024-01-02", "2024.03.04": "2024-03-04", "2024年5月6日": "2024-05-06",
		"2024-02-30": "", "2023-02-29": "", "2024-02-29": "2024-02-29", "2024-1-2x": "", "2024-01/02": "", "20240102": "", "五十": "",
	}
	for in, want := range dates {
		d, ok := parseDate(in)
		got := ""
		if ok {
			got = time.Unix(int64(d)*86400, 0).UTC().Format("2006-01-02")
		}
		if got != want {
			t.Errorf("parseDate(%q) = %q, want %q", in, got, want)
		}
	}
	stamps := map[string]string{
		"2024-01-31 08:30:00":       "2024-01-31T08:30:00+08:00",
		"2024-01-31T08:30":          "2024-01-31T08:30:00+08:00",
		"2024/1/2 9:05:07.25":       "2024-01-02T09:05:07.25+08:00",
		"2024年1月2日 15:04":           "2024-01-02T15:04:00+08:00",
		"2024-01-31T00:30:00Z":      "2024-01-31T08:30:00+08:00",
		"2024-01-31T08:30:00+09:00": "2024-01-31T07:30:00+08:00",
		"2024-01-31 25:00:00":       "",
		"2024-01-31 08:30:00 +8":    "",
		"2024-01-31":                "",
	}
	for in, want := range stamps {
		us, ok := parseTimestamp(in, sh)
		got := ""
		if ok {
			got = time.UnixMicro(us).In(sh).Format(time.RFC3339Nano)
		}
		if got != want {
			t.Errorf("parseTimestamp(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTrimCell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""}, {"abc", "abc"}, {" abc ", "abc"}, {"\tabc\r\n", "abc"},
		{"王伟", "王伟"}, {"\u3000王伟\u3000", "王伟"}, {"王伟\u00a0", "王伟"}, {"\u2003x", "x"},
		{"恩施市学院路1号", "恩施市学院路1号"}, {"a b", "a b"}, {"é", "é"}, {"\u3000", ""},
		{"\xff", "\xff"}, {"ab\x85", "ab\x85"}, {"中\u3000", "中"},
	} {
		if got := trimCell(tc.in); got != tc.want {
			t.Errorf("trimCell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzTrimCell(f *testing.F) {
	f.Add(" 王伟\u3000")
	f.Fuzz(func(t *testing.T, s string) {
		want := strings.TrimSpace(s)
		if strings.HasPrefix(want, "\u3000") || strings.HasSuffix(want, "\u3000") {
			want = strings.Trim(want, " \t\u3000")
		}
		if got := trimCell(s); got != want {
			t.Fatalf("trimCell(%q) = %q, want %q", s, got, want)
		}
	})
}

// The encoding sniffer reads the first 64 KiB; wherever that sample ends —
// inside a character or just after one — a UTF-8 file stays UTF-8.
func TestSniffUTF8AtEveryCut(t *testing.T) {
	text := []byte(strings.Repeat("编号,站点名称\n1,站点\n", 20))
	for cut := len(text) - 12; cut <= len(text); cut++ {
		s, err := sniffText(text[:cut], "")
		if err != nil || s.encoding != "utf-8" {
			t.Fatalf("cut at %d: %q %v", cut, s.encoding, err)
		}
	}
}

// maskRunes is the original, rune-slice formulation of Mask.
func maskRunes(kind, s string) string {
	if s == "" {
		return ""
	}
	switch {
	case kind == "id_number" && len(s) == 18:
		return s[:6] + "********" + s[14:]
	case kind == "mobile" && len(s) == 11:
		return s[:3] + "****" + s[7:]
	}
	r := []rune(s)
	n := len(r)
	switch {
	case n == 1:
		return "*"
	case n <= 4:
		return string(r[0]) + strings.Repeat("*", n-1)
	}
	keep := n / 4
	return string(r[:keep]) + strings.Repeat("*", n-2*keep) + string(r[n-keep:])
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{"张三", "湖北省恩施市舞阳坝街道", "11010519491231002X", "13812345678", "a", "\xff\xfe中文", "欧阳娜娜"} {
		f.Add("", s)
		f.Add("id_number", s)
		f.Add("mobile", s)
	}
	f.Fuzz(func(t *testing.T, kind, s string) {
		if got, want := Mask(kind, s), maskRunes(kind, s); got != want {
			t.Fatalf("Mask(%q, %q) = %q, want %q", kind, s, got, want)
		}
	})
}

package ingest

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"opendata/catalog"
	"opendata/i18n"
)

func TestHeaderKind(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{"法定代表人", KindName}, {"法人代表", KindName}, {"姓名", KindName}, {"学生姓名", KindName},
		{"联系人", KindName}, {"项目负责人", KindName}, {"户主", KindName}, {"申请人", KindName}, {"经办人", KindName},
		{"Legal Representative", KindName}, {"contact_person", KindName},
		{"负责人身份证", KindIDNumber}, {"公民身份号码", KindIDNumber}, {"法人代表证件号码", KindIDNumber},
		{"联系人电话", KindPhone}, {"办公电话", KindPhone}, {"联系方式", KindPhone}, {"Tel", KindPhone},
		{"负责人手机", KindMobile}, {"电子邮箱", KindEmail}, {"E-mail", KindEmail},
		{"银行卡号", KindBankCard}, {"开户账号", KindBankCard},
		{"住址", KindAddress}, {"家庭住址", KindAddress}, {"居住地址", KindAddress}, {"户籍所在地", KindAddress},
		// Not about a person.
		{"企业名称", ""}, {"注册地址", ""}, {"经营场所", ""}, {"站点名称", ""}, {"申请人类型", ""}, {"hotel", ""}, {"编号", ""}, {"name", ""},
	} {
		if got := HeaderKind(c.header); got != c.want {
			t.Errorf("HeaderKind(%q) = %q, want %q", c.header, got, c.want)
		}
	}
}

func TestPersonalValueShapes(t *testing.T) {
	for _, c := range []struct {
		s                     string
		bank, email, landline bool
	}{
		{"6222021234567890128", true, false, false}, // Luhn-valid 19 digits
		{"4111111111111111", true, false, false},
		{"4111111111111112", false, false, false}, // check digit wrong
		{"0111111111111111", false, false, false}, // leading zero
		{"zhang.san@example.com.cn", false, true, false},
		{"a@b", false, false, false},
		{"x@@example.com", false, false, false},
		{"two words@example.com", false, false, false},
		{"0371-12345678", false, false, true},
		{"010-1234567-801", false, false, true},
		{"(010)12345678", false, false, true},
		{"（0718）8234567", false, false, true},
		{"0371-0234567", false, false, false}, // a number does not start with 0
		{"2021-03-04", false, false, false},
		{"13812345678", false, false, false},
	} {
		if got := ValidBankCard(c.s); got != c.bank {
			t.Errorf("ValidBankCard(%q) = %v", c.s, got)
		}
		if got := looksLikeEmail(c.s); got != c.email {
			t.Errorf("looksLikeEmail(%q) = %v", c.s, got)
		}
		if got := looksLikeLandline(c.s); got != c.landline {
			t.Errorf("looksLikeLandline(%q) = %v", c.s, got)
		}
	}
}

func TestMaskPersonalKinds(t *testing.T) {
	for _, c := range []struct{ kind, in, want string }{
		{KindName, "张三", "张*"},
		{KindName, "欧阳娜娜", "欧***"},
		{KindName, "王小明", "王**"},
		{KindName, "Li", "L*"},
		{KindBankCard, "6222021234567890128", "6222***********0128"},
		{KindEmail, "zhang.san@example.com", "z***@example.com"},
		{KindPhone, "0371-12345678", "0371-******78"},
		{KindPhone, "(010)12345678", "(010)******78"},
		{KindPhone, "13812345678", "138****5678"},
		{KindAddress, "湖北省恩施市舞阳坝街道8号", "湖北省恩*********"},
		{KindEmail, "not an address", "not********ess"}, // the generic rule
	} {
		if got := Mask(c.kind, c.in); got != c.want {
			t.Errorf("Mask(%q, %q) = %q, want %q", c.kind, c.in, got, c.want)
		}
	}
}

// A market-entity register as departments export it: the legal
// representative's name, a home address, a contact e-mail, a bank card and a
// landline, none declared personal.
func registerFile(rows int) string {
	var b strings.Builder
	b.WriteString("统一社会信用代码,企业名称,法定代表人,住址,邮箱,开户账号,办公电话,注册资本\n")
	surnames := []string{"张", "李", "欧阳", "王", "陈"}
	for i := 1; i <= rows; i++ {
		card := luhnComplete(fmt.Sprintf("622202%012d", i))
		fmt.Fprintf(&b, "91420100MA4K%06d,恩施%d号商贸有限公司,%s晓%c,湖北省恩施市舞阳坝街道%d号,boss%d@example.com,%s,0718-82%06d,%d\n",
			i, i, surnames[i%len(surnames)], rune('明'+i%20), i, i, card, i, 100+i)
	}
	return b.String()
}

// luhnComplete appends the Luhn check digit to digits.
func luhnComplete(digits string) string {
	for d := '0'; d <= '9'; d++ {
		if s := digits + string(d); ValidBankCard(s) {
			return s
		}
	}
	panic("no check digit")
}

// registerItems declares every column of registerFile, none personal.
var registerItems = []catalog.Item{{Name: "统一社会信用代码", Type: "string"}, {Name: "企业名称", Type: "string"}, {Name: "法定代表人", Type: "string"},
	{Name: "住址", Type: "string"}, {Name: "邮箱", Type: "string"}, {Name: "开户账号", Type: "string"}, {Name: "办公电话", Type: "string"}, {Name: "注册资本", Type: "int"}}

// Security (issue 10 item 16): a column of legal representatives' names that
// the catalog does not declare personal is masked in open.csv and
// open.parquet, in both the one-read and the scan-then-convert paths, and
// the result says why.
func TestUndeclaredNamesAreNotPublished(t *testing.T) {
	p := writeFile(t, "register.csv", []byte(registerFile(300)))
	all := registerItems
	for _, tc := range []struct {
		name   string
		items  []catalog.Item
		passes int
	}{
		{"nothing declared", nil, 2},
		{"some declared", all[:2], 2},
		{"all declared, none personal", all, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := convertOK(t, p, opts(tc.items...))
			if res.passes != tc.passes {
				t.Fatalf("passes %d, want %d", res.passes, tc.passes)
			}
			want := map[string][2]string{"法定代表人": {KindName, ByHeader}, "住址": {KindAddress, ByHeader}, "邮箱": {KindEmail, ByValues},
				"开户账号": {KindBankCard, ByValues}, "办公电话": {KindPhone, ByValues}}
			for _, col := range res.Columns {
				w, personal := want[col.Name]
				if personal != (col.Open == "masked") || personal && (col.Detected != w[0] || col.DetectedBy != w[1]) {
					t.Errorf("column %s: open %s, detected %q by %q; want %v", col.Name, col.Open, col.Detected, col.DetectedBy, w)
				}
			}
			csvb, _ := os.ReadFile(res.Files["open.csv"])
			open, _ := readParquet(t, res.Files["open.parquet"])
			full, _ := readParquet(t, res.Files["full.parquet"])
			if full[0]["法定代表人"] != "李晓"+string(rune('明'+1)) {
				t.Fatalf("full variant: %v", full[0])
			}
			for i, r := range open {
				name := full[i]["法定代表人"]
				if r["法定代表人"] == name || !strings.HasPrefix(r["法定代表人"], string([]rune(name)[:1])) || !strings.HasSuffix(r["法定代表人"], "*") {
					t.Fatalf("row %d: open name %q for %q", i+1, r["法定代表人"], name)
				}
				if bytes.Contains(csvb, []byte(","+name+",")) {
					t.Fatalf("open.csv holds the name %q", name)
				}
				for _, col := range []string{"住址", "邮箱", "开户账号", "办公电话"} {
					if r[col] == full[i][col] || bytes.Contains(csvb, []byte(full[i][col])) {
						t.Fatalf("row %d: %s published as %q", i+1, col, r[col])
					}
				}
			}
			q, _ := os.ReadFile(res.Files["quality.json"])
			if !bytes.Contains(q, []byte(`"detected_by": "header"`)) || !bytes.Contains(q, []byte(`"detected": "bank_card"`)) {
				t.Fatalf("quality.json does not say why: %.400s", q)
			}
			var warned []string
			for _, w := range res.Report.Warnings {
				if strings.HasPrefix(w.Code, "personal_detected_") {
					warned = append(warned, w.Column+":"+Describe(i18n.ZH, w))
				}
			}
			if len(warned) != 5 || !strings.Contains(warned[0], "姓名") || !strings.Contains(warned[0], "表头") {
				t.Fatalf("warnings %q", warned)
			}
		})
	}
}

// An item declared not personal is published as it is, and one declared
// personal keeps its declared treatment.
func TestDeclaredNotPersonalIsKept(t *testing.T) {
	p := writeFile(t, "register.csv", []byte(registerFile(50)))
	res := convertOK(t, p, opts(catalog.Item{Name: "法定代表人", Type: "string", NotPersonal: true},
		catalog.Item{Name: "办公电话", Type: "string", NotPersonal: true}, catalog.Item{Name: "邮箱", Type: "string", Personal: true, PersonalAction: "drop"}))
	byName := map[string]Column{}
	for _, c := range res.Columns {
		byName[c.Name] = c
	}
	if c := byName["法定代表人"]; c.Open != "kept" || c.Detected != KindName {
		t.Fatalf("法定代表人 %+v", c)
	}
	if c := byName["办公电话"]; c.Open != "kept" {
		t.Fatalf("办公电话 %+v", c)
	}
	if c := byName["邮箱"]; c.Open != "dropped" {
		t.Fatalf("邮箱 %+v", c)
	}
	if c := byName["住址"]; c.Open != "masked" {
		t.Fatalf("住址 %+v", c)
	}
	open, _ := readParquet(t, res.Files["open.parquet"])
	if open[0]["法定代表人"] != "李晓"+string(rune('明'+1)) || open[0]["办公电话"] != "0718-82000001" {
		t.Fatalf("open %v", open[0])
	}
}

// E-mail addresses that appear only after the first rows are still found:
// the one read disagrees with its sample and the file is scanned.
func TestLateEmailsFallBackToScan(t *testing.T) {
	res := convertOK(t, lateFile(t, func(i int) string { return fmt.Sprintf("user%d@example.org", i) }), opts(catalog.Item{Name: "编号", Type: "int"}, catalog.Item{Name: "备注", Type: "string"}))
	if res.passes != 2 || res.Columns[1].Open != "masked" || res.Columns[1].Detected != KindEmail || res.Columns[1].DetectedBy != ByValues {
		t.Fatalf("passes %d, column %+v", res.passes, res.Columns[1])
	}
	csvb, _ := os.ReadFile(res.Files["open.csv"])
	if bytes.Contains(csvb, []byte("user29999@")) || !bytes.Contains(csvb, []byte("u***@example.org")) {
		t.Fatal("late e-mail addresses are not masked")
	}
}

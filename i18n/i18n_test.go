package i18n

import (
	"strings"
	"testing"
)

func TestCatalogsHaveTheSameKeys(t *testing.T) {
	zh, en := Keys(ZH), Keys(EN)
	if strings.Join(zh, ",") != strings.Join(en, ",") {
		t.Fatalf("zh-CN and en differ:\nzh %v\nen %v", zh, en)
	}
}

func TestT(t *testing.T) {
	p := map[string]string{"row": "3", "column": "日均客流", "value": "五十"}
	if got := T("zh-CN", "ingest.not_a_number", p); got != "第 3 行“日均客流”：“五十”不是数字" {
		t.Errorf("zh: %q", got)
	}
	if got := T("en-US,en;q=0.9", "ingest.not_a_number", p); got != `row 3, field "日均客流": "五十" is not a number` {
		t.Errorf("en: %q", got)
	}
	if got := T("fr", "nope", nil); !strings.HasPrefix(got, Missing) {
		t.Errorf("missing key: %q", got)
	}
}

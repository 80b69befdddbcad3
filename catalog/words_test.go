package catalog_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"opendata/catalog"
	"opendata/i18n"
)

// stored round-trips changes through JSON, as the history table keeps them.
func stored(t *testing.T, c map[string]catalog.Change) map[string]catalog.Change {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]catalog.Change
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDescribe(t *testing.T) {
	depts := func(id int64) string {
		return map[int64]string{1: "市交通运输局", 2: "市卫生健康委员会"}[id]
	}
	items := func(list ...catalog.Item) []catalog.Item { return list }
	cases := []struct {
		name    string
		action  string
		changes map[string]catalog.Change
		zh, en  []string
	}{
		{"update period", "update", map[string]catalog.Change{"update_period": {From: "monthly", To: "weekly"}},
			[]string{"张三 把更新周期由 每月 改为 每周"}, []string{"张三 changed the update period from Monthly to Weekly"}},
		{"text set and cleared", "update", map[string]catalog.Change{"category": {From: "", To: "交通"}, "level": {From: "市级", To: ""}},
			[]string{"张三 填写了类别：“交通”", "张三 清空了级别（原为 “市级”）"},
			[]string{"张三 set the category to “交通”", "张三 cleared the level (was “市级”)"}},
		{"department by name", "update", map[string]catalog.Change{"department_id": {From: 1, To: 2}},
			[]string{"张三 把提供部门由 市交通运输局 改为 市卫生健康委员会"}, nil},
		{"share methods as words", "update", map[string]catalog.Change{"share_methods": {From: []string{"api"}, To: []string{"api", "file"}}},
			[]string{"张三 把共享方式由 接口交换 改为 接口交换、文件下载"}, nil},
		{"create", "create", map[string]catalog.Change{"code": {To: "X"}}, []string{"张三 创建了此条目"}, []string{"张三 created the entry"}},
		{"retire", "retire", map[string]catalog.Change{"retired": {To: "数据已并入新系统"}}, []string{"张三 撤销了此条目，原因：数据已并入新系统"}, nil},
		{"items added, removed, changed", "update", map[string]catalog.Change{"items": {
			From: items(catalog.Item{Name: "站点编号", Type: "int"}, catalog.Item{Name: "备注", Type: "string"}, catalog.Item{Name: "身份证", Type: "string"}),
			To:   items(catalog.Item{Name: "站点编号", Type: "string"}, catalog.Item{Name: "身份证", Type: "string", Personal: true, PersonalAction: "mask"}, catalog.Item{Name: "经度", Type: "decimal"}),
		}}, []string{
			"张三 删除了数据项“备注”",
			"张三 把数据项“站点编号”的类型由 整数 改为 文本",
			"张三 把数据项“身份证”的个人信息由 否 改为 是",
			"张三 把数据项“身份证”的开放处理由 （无） 改为 脱敏后开放",
			"张三 新增数据项“经度”（数值）",
		}, nil},
		{"item renamed in place", "update", map[string]catalog.Change{"items": {
			From: items(catalog.Item{Name: "站名", Type: "string"}, catalog.Item{Name: "客流", Type: "int"}),
			To:   items(catalog.Item{Name: "站点名称", Type: "string", Description: "中文名"}, catalog.Item{Name: "客流", Type: "int"}),
		}}, []string{"张三 把数据项“站名”改名为“站点名称”", "张三 把数据项“站点名称”的说明由 （无） 改为 “中文名”"}, nil},
		{"items reordered", "update", map[string]catalog.Change{"items": {
			From: items(catalog.Item{Name: "a", Type: "string"}, catalog.Item{Name: "b", Type: "string"}),
			To:   items(catalog.Item{Name: "b", Type: "string"}, catalog.Item{Name: "a", Type: "string"}),
		}}, []string{"张三 调整了数据项的顺序"}, []string{"张三 reordered the data items"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := catalog.HistoryEntry{Action: c.action, Actor: "张三", Changes: stored(t, c.changes)}
			if got := catalog.Describe(i18n.ZH, h, depts); !reflect.DeepEqual(got, c.zh) {
				t.Errorf("zh:\n got %q\nwant %q", got, c.zh)
			}
			en := catalog.Describe(i18n.EN, h, depts)
			if c.en != nil && !reflect.DeepEqual(en, c.en) {
				t.Errorf("en:\n got %q\nwant %q", en, c.en)
			}
			for _, line := range append(en, catalog.Describe(i18n.ZH, h, depts)...) {
				for _, raw := range []string{"update_period", "monthly", "department_id", "items.", "‽", "personal_action", "share_methods"} {
					if strings.Contains(line, raw) {
						t.Errorf("raw code %q in %q", raw, line)
					}
				}
			}
		})
	}
}

func TestChangesSince(t *testing.T) {
	h := []catalog.HistoryEntry{{Revision: 1, Action: "create"}, {Revision: 2, Changes: map[string]catalog.Change{"name": {}}},
		{Revision: 3, Changes: map[string]catalog.Change{"summary": {}, "name": {}}}}
	got := catalog.ChangesSince(h, 1)
	if len(got) != 2 || got[0].Revision != 2 {
		t.Fatalf("since 1: %+v", got)
	}
	if f := catalog.ChangedFields(got); len(f) != 2 || !f["name"] || !f["summary"] {
		t.Fatalf("fields %v", f)
	}
	if len(catalog.ChangesSince(h, 3)) != 0 {
		t.Fatal("nothing after the latest revision")
	}
}

// Package demo loads a realistic demo city so a newcomer's first run shows a
// living platform: departments and towns, staff, about forty catalog entries
// across the priority domains, and versions ingested from generated files in
// the formats departments really send (GBK CSV, XLSX, JSON, NDJSON).
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"opendata/app"
	"opendata/auth"
	"opendata/catalog"
	"opendata/ingest"
)

// Demo credentials (printed on load; change them before any real use).
const (
	AdminUser     = "admin"
	AdminPassword = "opendata-demo"
	// DeveloperUser is the demo's developer account (same password).
	DeveloperUser = "developer@example.cn"
)

type dept struct{ code, name, en, kind string }

var departments = []dept{
	{"BDB", "市政务服务和大数据管理局", "Big Data Bureau", "bureau"},
	{"LGO", "市政务数据资源管理领导小组办公室", "Leading Group Office", "office"},
	{"JTJ", "市交通运输局", "Transport Bureau", "department"},
	{"WJW", "市卫生健康委员会", "Health Commission", "department"},
	{"SCJ", "市市场监督管理局", "Market Regulation Bureau", "department"},
	{"MZJ", "市民政局", "Civil Affairs Bureau", "department"},
	{"JYJ", "市教育局", "Education Bureau", "department"},
	{"STJ", "市生态环境局", "Ecology and Environment Bureau", "department"},
	{"WLJ", "市文化和旅游局", "Culture and Tourism Bureau", "department"},
	{"NYJ", "市农业农村局", "Agriculture and Rural Affairs Bureau", "department"},
	{"TJJ", "市统计局", "Statistics Bureau", "department"},
	{"QXJ", "市气象局", "Meteorological Bureau", "department"},
	{"ZRJ", "市自然资源和规划局", "Natural Resources Bureau", "department"},
	{"WYB", "舞阳坝街道办事处", "Wuyangba Sub-district", "town"},
	{"LDP", "龙凤坝镇人民政府", "Longfengba Town", "town"},
}

type entrySpec struct {
	dept, code, name, en, domain, kind string
	share                              catalog.ShareType
	open                               catalog.OpenType
	period                             string
	items                              []catalog.Item
	keys                               []string
	file                               string // generator name; "" for none
}

func it(name string, typ catalog.ColumnType, desc string) catalog.Item {
	return catalog.Item{Name: name, Type: typ, Description: desc}
}

var specs = []entrySpec{
	{"JTJ", "JTJ-001", "公交站点信息", "Bus stops", "transport", "theme", "unconditional", "unconditional", "monthly",
		[]catalog.Item{it("站点编号", "int", "站点唯一编号"), it("站点名称", "string", "站点中文名称"), it("所属线路", "string", "经过的线路"),
			it("经度", "decimal", "WGS84 经度"), it("纬度", "decimal", "WGS84 纬度"), it("日均客流", "int", "日均上下车人次"), it("启用日期", "date", "站点启用日期")},
		[]string{"站点编号"}, "bus_stops"},
	{"JTJ", "JTJ-002", "公交线路信息", "Bus routes", "transport", "theme", "unconditional", "unconditional", "quarterly", nil, nil, ""},
	{"JTJ", "JTJ-003", "出租车运营车辆信息", "Taxi fleet", "transport", "department", "conditional", "on_application", "monthly", nil, nil, ""},
	{"JTJ", "JTJ-004", "道路运输经营许可信息", "Road transport licences", "admin_approval", "department", "unconditional", "unconditional", "on_change", nil, nil, ""},
	{"WJW", "WJW-001", "医疗机构床位信息", "Hospital beds", "medical", "theme", "unconditional", "unconditional", "monthly",
		[]catalog.Item{it("机构名称", "string", "医疗机构名称"), it("机构等级", "string", "医院等级"), it("核定床位", "int", "核定床位数"),
			it("实有床位", "int", "实际开放床位数"), it("床位使用率", "decimal", "当月床位使用率"), it("统计日期", "date", "统计截止日期")},
		[]string{"机构名称"}, "hospital_beds"},
	{"WJW", "WJW-002", "执业医师注册信息", "Registered doctors", "health", "department", "conditional", "none", "on_change",
		[]catalog.Item{{Name: "姓名", Type: "string", Description: "医师姓名", Personal: true}, it("身份证号", "string", "公民身份证号码"), it("执业机构", "string", "执业机构名称"), it("执业类别", "string", "执业类别"), it("注册日期", "date", "注册日期")},
		[]string{"身份证号"}, "doctors"},
	{"WJW", "WJW-003", "预防接种门诊信息", "Vaccination clinics", "health", "theme", "unconditional", "unconditional", "quarterly", nil, nil, ""},
	{"WJW", "WJW-004", "传染病疫情统计", "Infectious disease statistics", "health", "department", "conditional", "none", "monthly", nil, nil, ""},
	{"SCJ", "SCJ-001", "市场主体登记信息", "Registered businesses", "credit", "basic", "unconditional", "unconditional", "daily",
		[]catalog.Item{it("统一社会信用代码", "string", "统一社会信用代码"), it("企业名称", "string", "市场主体名称"), it("法定代表人", "string", "法定代表人姓名"),
			it("注册资本", "decimal", "注册资本（万元）"), it("成立日期", "date", "成立日期"), it("经营状态", "string", "存续、在业、注销等")},
		[]string{"统一社会信用代码"}, "businesses"},
	{"SCJ", "SCJ-002", "行政处罚信息", "Administrative penalties", "credit", "department", "unconditional", "unconditional", "on_change", nil, nil, ""},
	{"SCJ", "SCJ-003", "食品经营许可信息", "Food business licences", "admin_approval", "department", "unconditional", "unconditional", "on_change", nil, nil, ""},
	{"SCJ", "SCJ-004", "特种设备登记信息", "Special equipment", "other", "department", "conditional", "none", "monthly", nil, nil, ""},
	{"MZJ", "MZJ-001", "养老机构信息", "Elderly care homes", "elderly_care", "theme", "unconditional", "unconditional", "quarterly",
		[]catalog.Item{it("机构名称", "string", "养老机构名称"), it("地址", "string", "机构地址"), it("床位数", "int", "床位数"), it("入住人数", "int", "入住人数"), it("联系电话", "string", "机构电话"), it("等级", "string", "星级评定")},
		[]string{"机构名称"}, "care_homes"},
	{"MZJ", "MZJ-002", "最低生活保障对象信息", "Minimum-living-standard recipients", "other", "basic", "conditional", "none", "monthly", nil, nil, ""},
	{"MZJ", "MZJ-003", "社会组织登记信息", "Social organisations", "credit", "department", "unconditional", "unconditional", "on_change", nil, nil, ""},
	{"MZJ", "MZJ-004", "婚姻登记信息", "Marriage registrations", "other", "basic", "none", "none", "daily", nil, nil, ""},
	{"JYJ", "JYJ-001", "中小学校基本信息", "Schools", "education", "theme", "unconditional", "unconditional", "yearly", nil, nil, ""},
	{"JYJ", "JYJ-002", "幼儿园信息", "Kindergartens", "education", "theme", "unconditional", "unconditional", "yearly", nil, nil, ""},
	{"JYJ", "JYJ-004", "义务教育招生学区划分", "School catchment areas", "education", "theme", "unconditional", "unconditional", "yearly", nil, nil, ""},
	{"JYJ", "JYJ-003", "学生学籍信息", "Student records", "education", "basic", "conditional", "none", "quarterly", nil, nil, ""},
	{"STJ", "STJ-001", "空气质量监测小时数据", "Hourly air quality", "environment", "theme", "unconditional", "unconditional", "realtime",
		[]catalog.Item{it("站点", "string", "监测站点"), it("时间", "timestamp", "监测时间"), it("AQI", "int", "空气质量指数"),
			it("PM2.5", "decimal", "细颗粒物浓度 μg/m³"), it("PM10", "decimal", "可吸入颗粒物浓度 μg/m³"), it("首要污染物", "string", "首要污染物")},
		nil, "air_quality"},
	{"STJ", "STJ-002", "重点排污单位名录", "Key polluters", "environment", "department", "unconditional", "unconditional", "yearly", nil, nil, ""},
	{"STJ", "STJ-003", "地表水水质监测", "Surface water quality", "environment", "theme", "unconditional", "unconditional", "monthly", nil, nil, ""},
	{"WLJ", "WLJ-001", "A级旅游景区信息", "Rated tourist attractions", "tourism", "theme", "unconditional", "unconditional", "quarterly",
		[]catalog.Item{it("景区名称", "string", "景区名称"), it("等级", "string", "A 级等级"), it("所在乡镇", "string", "所在乡镇街道"), it("年接待人次", "int", "上年接待游客人次"), it("门票价格", "decimal", "门票价格（元）")},
		[]string{"景区名称"}, "attractions"},
	{"WLJ", "WLJ-002", "公共图书馆信息", "Public libraries", "culture", "theme", "unconditional", "unconditional", "yearly", nil, nil, ""},
	{"WLJ", "WLJ-003", "文物保护单位名录", "Protected heritage sites", "culture", "department", "unconditional", "unconditional", "on_change", nil, nil, ""},
	{"WLJ", "WLJ-004", "旅行社名录", "Travel agencies", "tourism", "department", "unconditional", "unconditional", "on_change", nil, nil, ""},
	{"NYJ", "NYJ-001", "农产品价格监测", "Farm produce prices", "agriculture", "theme", "unconditional", "unconditional", "weekly", nil, nil, ""},
	{"NYJ", "NYJ-002", "农民专业合作社名录", "Farmers' cooperatives", "agriculture", "department", "unconditional", "unconditional", "quarterly", nil, nil, ""},
	{"NYJ", "NYJ-003", "耕地保护信息", "Arable land protection", "agriculture", "basic", "conditional", "on_application", "yearly", nil, nil, ""},
	{"TJJ", "TJJ-001", "国民经济主要指标", "Key economic indicators", "statistics", "basic", "unconditional", "unconditional", "quarterly",
		[]catalog.Item{it("指标", "string", "指标名称"), it("季度", "string", "统计季度"), it("数值", "decimal", "指标数值"), it("单位", "string", "计量单位"), it("同比增长", "decimal", "同比增长（%）")},
		nil, "economy"},
	{"TJJ", "TJJ-002", "人口统计年报", "Population yearbook", "statistics", "basic", "unconditional", "unconditional", "yearly", nil, nil, ""},
	{"TJJ", "TJJ-003", "居民消费价格指数", "Consumer price index", "statistics", "theme", "unconditional", "unconditional", "monthly", nil, nil, ""},
	{"QXJ", "QXJ-001", "逐日气象观测数据", "Daily weather observations", "meteorology", "theme", "unconditional", "unconditional", "daily", nil, nil, ""},
	{"QXJ", "QXJ-002", "气象灾害预警信息", "Weather warnings", "meteorology", "theme", "unconditional", "unconditional", "realtime", nil, nil, ""},
	{"ZRJ", "ZRJ-001", "行政区划与地名信息", "Administrative divisions and place names", "geography", "basic", "unconditional", "unconditional", "yearly", nil, nil, ""},
	{"ZRJ", "ZRJ-002", "不动产登记信息", "Real estate registrations", "other", "basic", "conditional", "none", "daily", nil, nil, ""},
	{"ZRJ", "ZRJ-003", "地质灾害隐患点", "Geological hazard sites", "geography", "theme", "unconditional", "on_application", "yearly", nil, nil, ""},
	{"WYB", "WYB-001", "社区网格员信息", "Community grid workers", "other", "department", "conditional", "none", "on_change", nil, nil, ""},
	{"LDP", "LDP-001", "村级公共服务设施", "Village public facilities", "other", "department", "unconditional", "unconditional", "yearly", nil, nil, ""},
}

var periodNames = map[string]string{"realtime": "实时", "daily": "每日", "weekly": "每周", "monthly": "每月", "quarterly": "每季度", "yearly": "每年", "on_change": "变更时"}

func entryFor(s entrySpec, deptID int64, deptName string) catalog.Entry {
	items := s.items
	if items == nil {
		items = []catalog.Item{it("名称", "string", "名称"), it("地址", "string", "地址"), it("更新日期", "date", "数据更新日期")}
	}
	e := catalog.Entry{
		Code: s.code, Name: s.name, NameEn: s.en, DepartmentID: deptID,
		Summary:     fmt.Sprintf("%s提供的%s，%s更新。", deptName, s.name, periodNames[s.period]),
		CatalogKind: s.kind, Domain: s.domain, Format: "table", Items: items, KeyColumns: s.keys,
		CollectionChannel: "business_system", UpdatePeriod: s.period, ShareType: s.share, OpenType: s.open,
		ShareMethods: []string{"api", "file"}, ResponsiblePerson: "数据专员", ResponsibleContact: "0718-8200000",
		UsageNote:   "数据按原样提供，引用时请注明来源“" + deptName + "”。个人信息已脱敏。",
		ReleaseDate: "2025-01-15", Keywords: []string{s.name},
	}
	switch s.share {
	case catalog.ShareConditional:
		e.ShareCondition = "仅向履行相关法定职责的部门共享，需说明用途"
	case catalog.ShareNone:
		e.ShareBasis = "《中华人民共和国个人信息保护法》第十三条"
		e.ShareMethods = nil
	}
	switch s.open {
	case catalog.OpenNone:
		e.OpenBasis = "涉及个人隐私，依据《政府信息公开条例》第十五条不予开放"
		e.UsageNote = ""
	case catalog.OpenOnApplication:
		e.OpenCondition = "科研机构、企业可说明用途后申请，经审核同意后开放"
	}
	return e
}

// LoadIfEmpty loads the demo city when the database has no departments.
func LoadIfEmpty(ctx context.Context, a *app.App, progress io.Writer) (bool, error) {
	ds, err := a.Catalog.ListDepartments(ctx)
	if err != nil {
		return false, err
	}
	if len(ds) > 0 {
		return false, nil
	}
	return true, Load(ctx, a, progress)
}

// Load creates everything. It is meant for an empty database.
func Load(ctx context.Context, a *app.App, progress io.Writer) error {
	ids := map[string]int64{}
	names := map[string]string{}
	for _, d := range departments {
		created, err := a.Catalog.CreateDepartment(ctx, catalog.Department{Code: d.code, Name: d.name, NameEn: d.en, Kind: d.kind, Contact: "0718-8200000"})
		if err != nil {
			return err
		}
		ids[d.code], names[d.code] = created.ID, d.name
	}
	if _, err := a.Users.CreateUser(ctx, auth.NewUser{Username: AdminUser, DisplayName: "大数据局管理员", Password: AdminPassword, Role: auth.RoleBureauAdmin}); err != nil {
		return err
	}
	if _, err := a.Users.CreateUser(ctx, auth.NewUser{Username: "office", DisplayName: "领导小组办公室", Password: AdminPassword, Role: auth.RoleOffice}); err != nil {
		return err
	}
	// A developer account (public sign-ups start inactive; this one is ready).
	if _, err := a.Users.CreateUser(ctx, auth.NewUser{Username: DeveloperUser, DisplayName: "演示开发者", Password: AdminPassword, Role: auth.RoleDeveloper,
		Email: DeveloperUser, Organisation: "恩施州大数据创新实验室"}); err != nil {
		return err
	}
	for _, d := range departments {
		if d.kind != "department" && d.kind != "town" {
			continue
		}
		for _, role := range []auth.Role{auth.RoleDeptAdmin, auth.RoleDeptStaff} {
			name := strings.ToLower(d.code) + map[auth.Role]string{auth.RoleDeptAdmin: "_admin", auth.RoleDeptStaff: "_staff"}[role]
			if _, err := a.Users.CreateUser(ctx, auth.NewUser{Username: name, DisplayName: d.name, Password: AdminPassword, Role: role, DepartmentID: ids[d.code]}); err != nil {
				return err
			}
		}
	}
	dir, err := os.MkdirTemp(a.Ingest.Limits.TempDir, "demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rng := rand.New(rand.NewPCG(2019, 21))
	for _, s := range specs {
		staff, err := a.Users.GetUserByName(ctx, strings.ToLower(s.dept)+"_staff")
		if err != nil {
			return err
		}
		r, err := a.Catalog.CreateResource(ctx, staff.Actor(), entryFor(s, ids[s.dept], names[s.dept]))
		if err != nil {
			return fmt.Errorf("demo entry %s: %w", s.code, err)
		}
		gen := generators[s.file]
		if s.file == "" {
			gen = generic(s)
		}
		path, err := gen(dir, rng)
		if err != nil {
			return fmt.Errorf("demo file %s: %w", s.file, err)
		}
		out, err := a.Ingest.Ingest(ctx, staff.Actor(), ingest.Request{ResourceID: r.ID, Path: path, Name: filepath.Base(path), Lang: "zh-CN"})
		if err != nil {
			return fmt.Errorf("demo ingest %s: %w", s.code, err)
		}
		fmt.Fprintf(progress, "demo: %s %s v%d, %d rows\n", s.code, s.name, out.Version, out.RowsStored)
		if s.open == catalog.OpenNone {
			continue // shared internally only; never published
		}
		admin, err := a.Users.GetUserByName(ctx, strings.ToLower(s.dept)+"_admin")
		if err != nil {
			return err
		}
		if err := a.Publish.Submit(ctx, staff.Actor(), r.ID, out.Version); err != nil {
			return fmt.Errorf("demo submit %s: %w", s.code, err)
		}
		if err := a.Publish.Approve(ctx, admin.Actor(), r.ID, out.Version); err != nil {
			return fmt.Errorf("demo publish %s: %w", s.code, err)
		}
	}
	return nil
}

// --- generated files -------------------------------------------------------

var generators = map[string]func(dir string, rng *rand.Rand) (string, error){
	"bus_stops":     busStops,
	"hospital_beds": hospitalBeds,
	"doctors":       doctors,
	"businesses":    businesses,
	"care_homes":    careHomes,
	"air_quality":   airQuality,
	"attractions":   attractions,
	"economy":       economy,
}

var places = []string{"舞阳坝", "六角亭", "小渡船", "龙凤坝", "土桥坝", "金子坝", "航空大道", "施州大道", "红庙", "七里坪", "沙子坝", "白杨坪", "芭蕉", "三岔", "盛家坝", "屯堡", "新塘", "太阳河", "崔家坝", "板桥"}
var surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗向谭田")
var given = []string{"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "华", "慧"}

func name(rng *rand.Rand) string {
	return string(surnames[rng.IntN(len(surnames))]) + given[rng.IntN(len(given))]
}

// IDNumber makes a valid resident ID number (GB 11643) for a region.
func IDNumber(rng *rand.Rand, region string) string {
	d := time.Date(1950+rng.IntN(50), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
	body := fmt.Sprintf("%s%s%03d", region, d.Format("20060102"), rng.IntN(1000))
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(body[i]-'0') * w[i]
	}
	return body + string("10X98765432"[sum%11])
}

// CreditCode makes a valid unified social credit code (GB 32100).
func CreditCode(rng *rand.Rand) string {
	const alpha = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	b := []byte("91422801")
	for i := 0; i < 9; i++ {
		b = append(b, alpha[rng.IntN(len(alpha))])
	}
	w := []int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(alpha, b[i]) * w[i]
	}
	return string(append(b, alpha[(31-sum%31)%31]))
}

func writeGBK(path, s string) error {
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o640)
}

// generic makes a small file for an entry without a dedicated generator,
// shaped by its default data items (名称, 地址, 更新日期).
func generic(s entrySpec) func(dir string, rng *rand.Rand) (string, error) {
	return func(dir string, rng *rand.Rand) (string, error) {
		var b strings.Builder
		b.WriteString("名称,地址,更新日期\n")
		for i := 0; i < 12+rng.IntN(30); i++ {
			fmt.Fprintf(&b, "%s%s%d号点位,恩施市%s%d号,2025-%02d-%02d\n", places[rng.IntN(len(places))], strings.TrimSuffix(s.name, "信息"), i+1,
				places[rng.IntN(len(places))], 1+rng.IntN(300), 1+rng.IntN(10), 1+rng.IntN(28))
		}
		p := filepath.Join(dir, s.code+".csv")
		return p, os.WriteFile(p, []byte(b.String()), 0o640)
	}
}

// busStops is a GBK CSV as an old bus-company system exports it.
func busStops(dir string, rng *rand.Rand) (string, error) {
	var b strings.Builder
	b.WriteString("站点编号,站点名称,所属线路,经度,纬度,日均客流,启用日期\r\n")
	n := 0
	for _, p := range places {
		for _, suffix := range []string{"", "东", "西", "路口"} {
			n++
			fmt.Fprintf(&b, "%d,%s%s站,\"%d路,%d路\",%.6f,%.6f,\"%s\",%d/%d/%d\r\n", n, p, suffix, 1+rng.IntN(30), 31+rng.IntN(20),
				109.40+rng.Float64()*0.15, 30.25+rng.Float64()*0.10, commas(200+rng.IntN(3000)), 2005+rng.IntN(19), 1+rng.IntN(12), 1+rng.IntN(28))
		}
	}
	p := filepath.Join(dir, "公交站点.csv")
	return p, writeGBK(p, b.String())
}

func commas(n int) string {
	if n < 1000 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%d,%03d", n/1000, n%1000)
}

// hospitalBeds is an XLSX workbook with a title row and a total row.
func hospitalBeds(dir string, rng *rand.Rand) (string, error) {
	f := excelize.NewFile()
	sh := "床位统计"
	f.SetSheetName("Sheet1", sh)
	f.SetCellValue(sh, "A1", "恩施市医疗机构床位统计表（2025年10月）")
	f.SetSheetRow(sh, "A2", &[]any{"机构名称", "机构等级", "核定床位", "实有床位", "床位使用率", "统计日期"})
	hospitals := []string{"恩施州中心医院", "恩施市中心医院", "恩施州民族医院", "恩施市中医医院", "恩施市妇幼保健院", "舞阳坝社区卫生服务中心", "龙凤镇卫生院", "芭蕉乡卫生院", "盛家坝乡卫生院", "三岔镇卫生院"}
	levels := []string{"三级甲等", "二级甲等", "三级乙等", "二级甲等", "二级乙等", "一级", "一级", "一级", "一级", "一级"}
	dateStyle, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
	total := [2]int{}
	for i, h := range hospitals {
		beds := 50 + rng.IntN(1500)
		real := beds - rng.IntN(40)
		total[0] += beds
		total[1] += real
		row := i + 3
		f.SetSheetRow(sh, fmt.Sprintf("A%d", row), &[]any{h, levels[i], beds, real, 0.6 + rng.Float64()*0.35, 45961})
		f.SetCellStyle(sh, fmt.Sprintf("F%d", row), fmt.Sprintf("F%d", row), dateStyle)
	}
	f.SetSheetRow(sh, fmt.Sprintf("A%d", len(hospitals)+3), &[]any{"合计", nil, total[0], total[1]})
	p := filepath.Join(dir, "医疗机构床位.xlsx")
	return p, f.SaveAs(p)
}

// doctors holds ID numbers: the open variant masks them and the names.
func doctors(dir string, rng *rand.Rand) (string, error) {
	var b strings.Builder
	b.WriteString("姓名,身份证号,执业机构,执业类别,注册日期\n")
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%d-%02d-%02d\n", name(rng), IDNumber(rng, "422801"), []string{"恩施州中心医院", "恩施市中心医院", "恩施州民族医院"}[rng.IntN(3)],
			[]string{"临床", "中医", "口腔", "公共卫生"}[rng.IntN(4)], 2000+rng.IntN(25), 1+rng.IntN(12), 1+rng.IntN(28))
	}
	p := filepath.Join(dir, "执业医师.csv")
	return p, os.WriteFile(p, []byte(b.String()), 0o640)
}

// businesses is a JSON export with credit codes.
func businesses(dir string, rng *rand.Rand) (string, error) {
	kinds := []string{"商贸有限公司", "农业科技有限公司", "旅游开发有限公司", "茶业有限公司", "建筑工程有限公司", "餐饮管理有限公司"}
	var list []map[string]any
	for i := 0; i < 300; i++ {
		list = append(list, map[string]any{
			"统一社会信用代码": CreditCode(rng), "企业名称": "恩施" + places[rng.IntN(len(places))] + kinds[rng.IntN(len(kinds))],
			"法定代表人": name(rng), "注册资本": float64(10+rng.IntN(5000)) + 0.5, "成立日期": fmt.Sprintf("%d-%02d-%02d", 1995+rng.IntN(30), 1+rng.IntN(12), 1+rng.IntN(28)),
			"经营状态": []string{"存续", "在业", "注销", "吊销"}[rng.IntN(4)],
		})
	}
	b, err := json.MarshalIndent(list, "", " ")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "市场主体.json")
	return p, os.WriteFile(p, b, 0o640)
}

func careHomes(dir string, rng *rand.Rand) (string, error) {
	var b strings.Builder
	b.WriteString("机构名称,地址,床位数,入住人数,联系电话,等级\n")
	for i, p := range places {
		beds := 40 + rng.IntN(300)
		fmt.Fprintf(&b, "恩施市%s养老服务中心,恩施市%s%d号,%d,%d,0718-82%05d,%s\n", p, p, 1+i*7, beds, beds-rng.IntN(40), rng.IntN(100000), []string{"一星", "二星", "三星"}[rng.IntN(3)])
	}
	p := filepath.Join(dir, "养老机构.csv")
	return p, writeGBK(p, b.String())
}

// airQuality is NDJSON from a monitoring system: a week of hourly readings.
func airQuality(dir string, rng *rand.Rand) (string, error) {
	var b strings.Builder
	start := time.Date(2025, 11, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	for _, st := range []string{"州环境监测站", "恩施市委党校", "舞阳坝", "龙凤坝"} {
		for h := 0; h < 24*7; h++ {
			pm := 10 + rng.Float64()*60
			rec := map[string]any{"站点": st, "时间": start.Add(time.Duration(h) * time.Hour).Format("2006-01-02 15:04:05"),
				"AQI": int(pm * 1.4), "PM2.5": fmt.Sprintf("%.1f", pm), "PM10": fmt.Sprintf("%.1f", pm*1.6), "首要污染物": []string{"PM2.5", "PM10", "O3", "—"}[rng.IntN(4)]}
			line, _ := json.Marshal(rec)
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	p := filepath.Join(dir, "空气质量.ndjson")
	return p, os.WriteFile(p, []byte(b.String()), 0o640)
}

func attractions(dir string, rng *rand.Rand) (string, error) {
	f := excelize.NewFile()
	f.SetSheetRow("Sheet1", "A1", &[]any{"景区名称", "等级", "所在乡镇", "年接待人次", "门票价格"})
	names := []string{"恩施大峡谷", "恩施土司城", "梭布垭石林", "女儿城", "枫香坡侗族风情寨", "龙麟宫", "清江闯滩", "鹿院坪"}
	for i, n := range names {
		f.SetSheetRow("Sheet1", fmt.Sprintf("A%d", i+2), &[]any{n, []string{"5A", "4A", "3A"}[rng.IntN(3)], places[rng.IntN(len(places))], 50000 + rng.IntN(2000000), float64(rng.IntN(20)*10) + 0.0})
	}
	p := filepath.Join(dir, "旅游景区.xlsx")
	return p, f.SaveAs(p)
}

func economy(dir string, rng *rand.Rand) (string, error) {
	var b strings.Builder
	b.WriteString("指标,季度,数值,单位,同比增长\n")
	for _, ind := range [][2]string{{"地区生产总值", "亿元"}, {"规模以上工业增加值", "亿元"}, {"社会消费品零售总额", "亿元"}, {"固定资产投资", "亿元"}, {"城镇居民人均可支配收入", "元"}} {
		for q := 1; q <= 4; q++ {
			fmt.Fprintf(&b, "%s,2024年第%d季度,%.2f,%s,%.1f\n", ind[0], q, 50+rng.Float64()*500, ind[1], rng.Float64()*10-2)
		}
	}
	p := filepath.Join(dir, "经济指标.csv")
	return p, os.WriteFile(p, []byte(b.String()), 0o640)
}

package sharing_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"opendata/auth"
	"opendata/catalog"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
	"opendata/i18n"
	"opendata/notify"
	"opendata/sharing"
)

func TestDisputeVisibility(t *testing.T) {
	const provider, reporter, third = 1, 2, 3
	res := catalog.Resource{ID: 9, Entry: catalog.Entry{DepartmentID: provider}}
	open := sharing.Dispute{ID: 1, Reporter: "wj_staff", ReporterDepartment: reporter, RowKey: "站点编号=2", Evidence: "人工计数", Problem: "客流数字有误", Status: "open"}
	answered := open
	answered.ID, answered.Status, answered.Answer = 2, "confirmed", "已更正"
	staffOf := func(d int64) *sharing.Principal {
		return &sharing.Principal{UserID: d * 10, Name: "x", Role: auth.RoleDeptStaff, DepartmentID: d}
	}
	cases := []struct {
		name       string
		p          *sharing.Principal
		public     bool
		wantIDs    []int64
		wantFull   bool
		canSeeOpen bool
	}{
		{"provider", staffOf(provider), false, []int64{1, 2}, true, true},
		{"reporting department", staffOf(reporter), false, []int64{1, 2}, true, true},
		{"bureau", &sharing.Principal{Role: auth.RoleBureauAdmin}, false, []int64{1, 2}, true, true},
		{"office", &sharing.Principal{Role: auth.RoleOffice}, false, []int64{1, 2}, true, true},
		{"third department, not public", staffOf(third), false, nil, false, false},
		{"third department, public dataset: answered, public part", staffOf(third), true, []int64{2}, false, false},
		{"the public, public dataset", nil, true, []int64{2}, false, false},
		{"the public, not public", nil, false, nil, false, false},
		{"a third department's system", &sharing.Principal{DepartmentID: third, System: true}, true, []int64{2}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := sharing.VisibleDisputes(tc.p, res, tc.public, []sharing.Dispute{open, answered})
			if len(got) != len(tc.wantIDs) {
				t.Fatalf("sees %d disputes, want %v", len(got), tc.wantIDs)
			}
			for i, d := range got {
				if d.ID != tc.wantIDs[i] {
					t.Fatalf("sees %d, want %v", d.ID, tc.wantIDs)
				}
				full := d.Reporter != "" && d.Evidence != "" && d.RowKey != ""
				if full != tc.wantFull {
					t.Fatalf("dispute %d in full: %v, want %v (%+v)", d.ID, full, tc.wantFull, d)
				}
			}
			if tc.p != nil && sharing.CanSeeDispute(*tc.p, open, res) != tc.canSeeOpen {
				t.Fatalf("CanSeeDispute = %v", !tc.canSeeOpen)
			}
		})
	}
}

func TestDirectionOf(t *testing.T) {
	res := catalog.Resource{ID: 1, Entry: catalog.Entry{DepartmentID: 2}}
	req := sharing.Request{ResourceID: 1, DepartmentID: 3}
	for _, c := range []struct {
		p    sharing.Principal
		want string
	}{
		{sharing.Principal{DepartmentID: 2}, sharing.Incoming},
		{sharing.Principal{DepartmentID: 3}, sharing.Outgoing},
		{sharing.Principal{DepartmentID: 4}, sharing.Supervised},
		{sharing.Principal{Role: auth.RoleBureauAdmin}, sharing.Supervised},
	} {
		if got := sharing.DirectionOf(c.p, req, res); got != c.want {
			t.Errorf("%+v: %s, want %s", c.p, got, c.want)
		}
	}
}

func TestPageLink(t *testing.T) {
	for in, want := range map[string]string{
		"/api/v1/share/requests/12":          "/console/share/requests#request-12",
		"/console/applications":              "/console/applications",
		"/api/v1/share/requests/x":           "/api/v1/share/requests/x",
		"/api/v1/share/resources/7/disputes": "/console/disputes#dispute-7",
		"/api/v1/share/resources/x/disputes": "/api/v1/share/resources/x/disputes",
		"/api/v1/share/resources/7/data":     "/api/v1/share/resources/7/data",
		"":                                   "",
	} {
		if got := sharing.PageLink(in); got != want {
			t.Errorf("PageLink(%q) = %q, want %q", in, got, want)
		}
	}
	if sharing.PageLink(sharing.RequestLink(3)) != sharing.RequestLink(3) || sharing.PageLink(sharing.DisputeLink(3)) != sharing.DisputeLink(3) {
		t.Error("a new link changes")
	}
}

func TestValidContact(t *testing.T) {
	for in, want := range map[string]bool{
		"13812345678":                     true,
		"+86 138-1234-5678":               true,
		"(021) 6321 5678":                 true,
		"zhang.san@example.cn":            true,
		" li@mail.example.com ":           true,
		"":                                false,
		"12345":                           false, // too few digits for a telephone
		"1234567890123456":                false, // too many
		"138 1234 5678 ext":               false,
		"86+13812345678":                  false,
		"zhang@":                          false,
		"@example.cn":                     false,
		"zhang@example":                   false,
		"zhang@example.":                  false,
		"zh ang@example.cn":               false,
		"a@b@example.cn":                  false,
		"微信 zhangsan":                     false,
		strings.Repeat("a", 96) + "@x.cn": false, // over MaxContactRunes
	} {
		if got := sharing.ValidContact(in); got != want {
			t.Errorf("ValidContact(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestCheckCitizen(t *testing.T) {
	for _, c := range []struct {
		name string
		in   sharing.Citizen
		want []string // fields in error
	}{
		{"name and phone", sharing.Citizen{Name: "张三", Contact: "13812345678"}, nil},
		{"name and e-mail", sharing.Citizen{Name: "张三", Contact: "z@example.cn"}, nil},
		{"no contact", sharing.Citizen{Name: "张三"}, []string{"contact"}},
		{"a contact that is neither", sharing.Citizen{Name: "张三", Contact: "微信号"}, []string{"contact"}},
		{"no name", sharing.Citizen{Name: "  ", Contact: "13812345678"}, []string{"name"}},
		{"name too long", sharing.Citizen{Name: strings.Repeat("张", sharing.MaxNameRunes+1), Contact: "13812345678"}, []string{"name"}},
		{"nothing", sharing.Citizen{}, []string{"contact", "name"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fe := sharing.CheckCitizen(c.in)
			if got := fieldsOf(fe); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("fields %v, want %v", got, c.want)
			}
			for _, key := range fe {
				if !i18n.Has(key) {
					t.Errorf("message %q is not in the catalog", key)
				}
			}
		})
	}
}

func TestCheckDispute(t *testing.T) {
	res := catalog.Resource{ID: 9, Entry: catalog.Entry{DepartmentID: 1, Items: []catalog.Item{{Name: "日均客流"}, {Name: "站点名称"}}}}
	ok := sharing.NewDispute{Version: 1, RowKey: "站点编号=2", Column: "日均客流", Problem: "客流数字与人工计数不符"}
	with := func(f func(*sharing.NewDispute)) sharing.NewDispute { n := ok; f(&n); return n }
	for _, c := range []struct {
		name string
		in   sharing.NewDispute
		want []string
	}{
		{"complete", ok, nil},
		{"no record", with(func(n *sharing.NewDispute) { n.RowKey = " " }), []string{"row_key"}},
		{"record too long", with(func(n *sharing.NewDispute) { n.RowKey = strings.Repeat("1", sharing.MaxRowKeyRunes+1) }), []string{"row_key"}},
		{"not a data item", with(func(n *sharing.NewDispute) { n.Column = "票价" }), []string{"column"}},
		{"no data item", with(func(n *sharing.NewDispute) { n.Column = "" }), []string{"column"}},
		{"problem too short", with(func(n *sharing.NewDispute) { n.Problem = "不对" }), []string{"problem"}},
		{"problem at the limit", with(func(n *sharing.NewDispute) { n.Problem = strings.Repeat("错", sharing.MaxProblemRunes) }), nil},
		{"problem too long", with(func(n *sharing.NewDispute) { n.Problem = strings.Repeat("错", sharing.MaxProblemRunes+1) }), []string{"problem"}},
		{"evidence too long", with(func(n *sharing.NewDispute) { n.Evidence = strings.Repeat("证", sharing.MaxEvidenceRunes+1) }), []string{"evidence"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fe := sharing.CheckDispute(res, c.in)
			if got := fieldsOf(fe); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("fields %v, want %v", got, c.want)
			}
			for _, key := range fe {
				if !i18n.Has(key) {
					t.Errorf("message %q is not in the catalog", key)
				}
			}
		})
	}
}

func TestCheckAnswer(t *testing.T) {
	d := sharing.Dispute{ID: 1, Version: 2, Status: "open"}
	for _, c := range []struct {
		name      string
		confirmed bool
		answer    string
		fixedIn   int
		want      []string
	}{
		{"confirmed, fixed later", true, "已更正", 3, nil},
		{"confirmed, fix to come", true, "将在下一版更正", 0, nil},
		{"confirmed, fixed in the disputed version", true, "已更正", 2, []string{"fixed_in_version"}},
		{"confirmed, fixed before it", true, "已更正", 1, []string{"fixed_in_version"}},
		{"rejected: the version does not matter", false, "经核实无误", 1, nil},
		{"no answer", false, " 无 ", 0, []string{"answer"}},
		{"answer too long", false, strings.Repeat("答", sharing.MaxProblemRunes+1), 0, []string{"answer"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := fieldsOf(sharing.CheckAnswer(d, c.confirmed, c.answer, c.fixedIn)); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("fields %v, want %v", got, c.want)
			}
		})
	}
}

// TestDisputeContact: a citizen's contact reaches the providing
// department alone, never the bureau, the office, other departments or
// the public; and the provider's staff alone answer.
func TestDisputeContact(t *testing.T) {
	const provider, third = 1, 3
	res := catalog.Resource{ID: 9, Entry: catalog.Entry{DepartmentID: provider}}
	citizen := sharing.Dispute{ID: 1, Reporter: "张三", Contact: "13812345678", RowKey: "2", Problem: "客流数字有误", Status: "confirmed", Answer: "已更正"}
	for _, c := range []struct {
		name             string
		p                *sharing.Principal
		contact, answers bool
		seesDisputeAtAll bool
	}{
		{"provider staff", &sharing.Principal{Role: auth.RoleDeptStaff, DepartmentID: provider}, true, true, true},
		{"provider admin", &sharing.Principal{Role: auth.RoleDeptAdmin, DepartmentID: provider}, true, true, true},
		{"provider's system credential", &sharing.Principal{DepartmentID: provider, System: true}, false, false, true},
		{"bureau", &sharing.Principal{Role: auth.RoleBureauAdmin}, false, false, true},
		{"office", &sharing.Principal{Role: auth.RoleOffice}, false, false, true},
		{"third department", &sharing.Principal{Role: auth.RoleDeptStaff, DepartmentID: third}, false, false, true},
		{"the public", nil, false, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.p != nil {
				if got := sharing.CanSeeDisputeContact(*c.p, citizen, res); got != c.contact {
					t.Errorf("CanSeeDisputeContact = %v, want %v", got, c.contact)
				}
				if got := sharing.CanAnswerDispute(*c.p, res); got != c.answers {
					t.Errorf("CanAnswerDispute = %v, want %v", got, c.answers)
				}
			}
			got := sharing.VisibleDisputes(c.p, res, true, []sharing.Dispute{citizen})
			if len(got) != 1 {
				t.Fatalf("sees %d disputes", len(got))
			}
			if (got[0].Contact != "") != c.contact {
				t.Errorf("contact shown: %q, want shown %v", got[0].Contact, c.contact)
			}
		})
	}
	if sharing.PublicDispute(citizen).Contact != "" || !citizen.ByCitizen() || (sharing.Dispute{Reporter: "wj_staff"}).ByCitizen() {
		t.Error("PublicDispute keeps the contact, or ByCitizen is wrong")
	}
}

func TestCanCitizenReportDispute(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	past, later := now.Add(-time.Hour), now.Add(time.Hour)
	public := catalog.Resource{ID: 1, PublishedVersion: 1, Entry: catalog.Entry{OpenType: catalog.OpenUnconditional}}
	with := func(f func(*catalog.Resource)) catalog.Resource { r := public; f(&r); return r }
	for _, c := range []struct {
		name string
		r    catalog.Resource
		want bool
	}{
		{"open to everyone", public, true},
		{"open on application: its page is public too", with(func(r *catalog.Resource) { r.OpenType = catalog.OpenOnApplication }), true},
		{"not open", with(func(r *catalog.Resource) { r.OpenType = catalog.OpenNone }), false},
		{"nothing published", with(func(r *catalog.Resource) { r.PublishedVersion = 0 }), false},
		{"retired", with(func(r *catalog.Resource) { r.RetiredAt = &past }), false},
		{"withdrawn", with(func(r *catalog.Resource) { r.WithdrawAt = &past }), false},
		{"withdrawal announced, not yet in effect", with(func(r *catalog.Resource) { r.WithdrawAt = &later }), true},
	} {
		if got := sharing.CanCitizenReportDispute(c.r, now); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func fieldsOf(fe errs.FieldErrors) []string {
	var out []string
	for k := range fe {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestDisputeQueue: the provider's queue holds the disputes on its
// department's data with the working days left; another department's
// holds none of them; a citizen cannot report on data the portal does not
// show.
func TestDisputeQueue(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := setup(t, d)
		x.now = time.Date(2025, 11, 3, 9, 0, 0, 0, sh) // Monday
		v, _ := x.cat.ReserveVersion(ctx, auth.System, x.open.ID, "a.csv", "csv")
		x.cat.CommitVersion(ctx, v)
		dp, err := x.svc.ReportDispute(ctx, x.requester, x.open, sharing.NewDispute{Version: v.Number, RowKey: "姓名=张三", Column: "执业机构", Problem: "执业机构已变更"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.svc.ReportCitizenDispute(ctx, sharing.Citizen{Name: "张三", Contact: "13812345678"}, x.open, sharing.NewDispute{Version: v.Number, RowKey: "1", Column: "姓名", Problem: "姓名写错了"}); !errors.Is(err, errs.NotFound) {
			t.Fatalf("citizen on data the portal does not show: %v", err)
		}
		x.now = time.Date(2025, 11, 6, 9, 0, 0, 0, sh) // Thursday: Friday and Monday left
		q, err := x.svc.DisputeQueue(ctx, x.provider)
		if err != nil || len(q) != 1 || q[0].Dispute.ID != dp.ID || !q[0].CanAnswer || q[0].Dispute.Left == nil || q[0].Dispute.Left.WorkingDays != 2 {
			t.Fatalf("provider's queue: %v %+v", err, q)
		}
		if q, _ := x.svc.DisputeQueue(ctx, x.requester); len(q) != 0 {
			t.Fatalf("the reporting department answers nothing: %+v", q)
		}
		if q, _ := x.svc.DisputeQueue(ctx, x.bureau); len(q) != 1 || q[0].CanAnswer {
			t.Fatalf("the bureau supervises, does not answer: %+v", q)
		}
		if _, err := x.svc.AnswerDispute(ctx, x.provider, dp.ID, true, "已更正", 1); err == nil {
			t.Fatal("fixed in the disputed version")
		}
		x.svc.Notify = &notify.Notifier{DB: d}
		if _, err := x.svc.AnswerDispute(ctx, x.provider, dp.ID, true, "已核实，下一版更正", 0); err != nil {
			t.Fatal(err)
		}
		// The reporting department is told, the finding in words.
		for lang, want := range map[string]string{"zh-CN": "已确认", "en": "confirmed"} {
			inbox, err := x.svc.Notify.Inbox(ctx, x.requester.DepartmentID, "", lang)
			if err != nil || len(inbox) != 1 || !strings.Contains(inbox[0].Text, want) || strings.Contains(inbox[0].Text, "dispute.") ||
				(lang == "zh-CN" && strings.Contains(inbox[0].Text, "confirmed")) {
				t.Fatalf("%s notice of the answer: %v %+v", lang, err, inbox)
			}
		}
		x.now = time.Date(2025, 11, 20, 9, 0, 0, 0, sh)
		if q, _ := x.svc.DisputeQueue(ctx, x.provider); len(q) != 1 || q[0].CanAnswer || q[0].Dispute.Left != nil {
			t.Fatalf("answered: %+v", q)
		}
	})
}

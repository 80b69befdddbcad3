package catalog_test

import (
	"strings"
	"testing"

	"opendata/catalog"
)

func TestWidens(t *testing.T) {
	base := func() catalog.Entry {
		return catalog.Entry{OpenType: "on_application", ShareType: "conditional", Items: []catalog.Item{
			{Name: "name", Type: "string"}, {Name: "id", Type: "string", Personal: true},
			{Name: "income", Type: "int", Personal: true, PersonalAction: "drop"},
		}}
	}
	cases := []struct {
		name string
		edit func(*catalog.Entry)
		want string
	}{
		{"nothing", func(*catalog.Entry) {}, ""},
		{"on application → open", func(e *catalog.Entry) { e.OpenType = "unconditional" }, "open_type"},
		{"on application → not open narrows", func(e *catalog.Entry) { e.OpenType = "none" }, ""},
		{"conditional → unconditional share", func(e *catalog.Entry) { e.ShareType = "unconditional" }, "share_type"},
		{"conditional → not shared narrows", func(e *catalog.Entry) { e.ShareType = "none" }, ""},
		{"personal → not personal", func(e *catalog.Entry) { e.Items[1].Personal = false }, "items.id.personal"},
		{"drop → mask", func(e *catalog.Entry) { e.Items[2].PersonalAction = "mask" }, "items.income.personal_action"},
		{"mask → drop narrows", func(e *catalog.Entry) { e.Items[1].PersonalAction = "drop" }, ""},
		{"not personal → personal narrows", func(e *catalog.Entry) { e.Items[0].Personal = true }, ""},
		{"a personal item removed", func(e *catalog.Entry) { e.Items = e.Items[:2] }, ""},
		{"several at once", func(e *catalog.Entry) {
			e.OpenType, e.ShareType, e.Items[1].Personal = "unconditional", "unconditional", false
		},
			"open_type share_type items.id.personal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old, e := base(), base()
			tc.edit(&e)
			if got := strings.Join(catalog.Widens(old, e), " "); got != tc.want {
				t.Fatalf("Widens = %q, want %q", got, tc.want)
			}
			// Without data an edit never waits for review.
			if catalog.EditNeedsReview(false, old, e) != nil {
				t.Fatal("an entry without data needs no review")
			}
			if got := strings.Join(catalog.EditNeedsReview(true, old, e), " "); got != tc.want {
				t.Fatalf("EditNeedsReview = %q", got)
			}
		})
	}
	// From not shared at all to shared, from not open to open.
	old, e := base(), base()
	old.ShareType, old.OpenType = "none", "none"
	e.ShareType, e.OpenType = "conditional", "on_application"
	if got := strings.Join(catalog.Widens(old, e), " "); got != "open_type share_type" {
		t.Fatalf("none → some: %q", got)
	}
}

// Package catalog is the government data-resource catalog (政务数据资源目录):
// departments, catalog entries with every field the regulation asks for,
// their change history, and the immutable versions ingested for them.
package catalog

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"opendata/errs"
)

// Enumerations. The values are the stable codes stored and sent over the
// API; the message catalog gives their Chinese and English names.
var (
	CatalogKinds   = []string{"basic", "theme", "department"}
	UpdatePeriods  = []string{"realtime", "daily", "weekly", "monthly", "quarterly", "yearly", "on_change"}
	ShareTypes     = []string{"unconditional", "conditional", "none"}
	OpenTypes      = []string{"unconditional", "on_application", "none"}
	ShareMethods   = []string{"api", "file", "online", "offline"}
	Channels       = []string{"business_system", "manual_entry", "sensor", "exchange", "survey", "report", "other"}
	Formats        = []string{"table", "file", "api", "geo", "image", "other"}
	ItemTypes      = []string{"string", "int", "decimal", "bool", "date", "timestamp"}
	ItemChecks     = []string{"", "id_number", "credit_code", "mobile"}
	PersonalAction = []string{"mask", "drop"}
	// Domains are the priority domains of A-24, plus "other".
	Domains = []string{"admin_approval", "credit", "transport", "medical", "health", "geography", "culture",
		"elderly_care", "education", "environment", "tourism", "agriculture", "statistics", "meteorology", "other"}
)

// Item is one data item (信息项): a column of the resource's data.
type Item struct {
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	Description    string   `json:"description,omitempty"`
	Personal       bool     `json:"personal,omitempty"`
	PersonalAction string   `json:"personal_action,omitempty"` // mask (default) or drop, in the open variant
	Required       bool     `json:"required,omitempty"`
	Enum           []string `json:"enum,omitempty"`
	NotFuture      bool     `json:"not_future,omitempty"`
	Check          string   `json:"check,omitempty"` // id_number, credit_code, mobile
	Unit           string   `json:"unit,omitempty"`
}

// Entry is a catalog entry as staff create and edit it.
type Entry struct {
	Code               string   `json:"code"`
	Name               string   `json:"name"`
	NameEn             string   `json:"name_en,omitempty"`
	DepartmentID       int64    `json:"department_id"`
	Summary            string   `json:"summary"`
	CatalogKind        string   `json:"catalog_kind"`
	Domain             string   `json:"domain"`
	Category           string   `json:"category,omitempty"` // 类别
	Level              string   `json:"level,omitempty"`    // 级别
	Format             string   `json:"format"`
	Items              []Item   `json:"items"`
	KeyColumns         []string `json:"key_columns,omitempty"` // identify one record: the "one data, one source" check
	CollectionChannel  string   `json:"collection_channel"`
	UpdatePeriod       string   `json:"update_period"`
	ShareType          string   `json:"share_type"`
	ShareCondition     string   `json:"share_condition,omitempty"`
	ShareBasis         string   `json:"share_basis,omitempty"`
	ShareMethods       []string `json:"share_methods"`
	OpenType           string   `json:"open_type"`
	OpenCondition      string   `json:"open_condition,omitempty"`
	OpenBasis          string   `json:"open_basis,omitempty"`
	ResponsiblePerson  string   `json:"responsible_person"`
	ResponsibleContact string   `json:"responsible_contact"`
	UsageNote          string   `json:"usage_note,omitempty"`
	ReleaseDate        string   `json:"release_date,omitempty"` // YYYY-MM-DD
	Keywords           []string `json:"keywords,omitempty"`
	Related            []string `json:"related,omitempty"` // codes of related resources
}

func in(v string, set []string) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}

var (
	codeRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$`)
	itemNameRe = regexp.MustCompile(`^[^\x00-\x1f"\\]{1,128}$`)
)

// Normalize trims text fields and fills defaults before validation.
func (e *Entry) Normalize() {
	trim := func(s *string) { *s = strings.TrimSpace(*s) }
	for _, p := range []*string{&e.Code, &e.Name, &e.NameEn, &e.Summary, &e.CatalogKind, &e.Domain, &e.Category, &e.Level,
		&e.Format, &e.CollectionChannel, &e.UpdatePeriod, &e.ShareType, &e.ShareCondition, &e.ShareBasis, &e.OpenType,
		&e.OpenCondition, &e.OpenBasis, &e.ResponsiblePerson, &e.ResponsibleContact, &e.UsageNote, &e.ReleaseDate} {
		trim(p)
	}
	for i := range e.Items {
		it := &e.Items[i]
		trim(&it.Name)
		trim(&it.Type)
		trim(&it.Description)
		if it.Type == "" {
			it.Type = "string"
		}
		if it.Personal && it.PersonalAction == "" {
			it.PersonalAction = "mask"
		}
	}
	if e.ShareMethods == nil {
		e.ShareMethods = []string{}
	}
}

// Validate checks every rule the regulation sets on an entry and names each
// offending field.
func (e *Entry) Validate() error {
	fe := errs.FieldErrors{}
	if !codeRe.MatchString(e.Code) {
		fe["code"] = "2–64 letters, digits, '.', '_' or '-'"
	}
	if n := utf8.RuneCountInString(e.Name); n < 2 || n > 200 {
		fe["name"] = "2–200 characters"
	}
	if e.DepartmentID <= 0 {
		fe["department_id"] = "required"
	}
	if e.Summary == "" {
		fe["summary"] = "required"
	}
	check := func(field, v string, set []string) {
		if !in(v, set) {
			fe[field] = "must be one of " + strings.Join(set, ", ")
		}
	}
	check("catalog_kind", e.CatalogKind, CatalogKinds)
	check("domain", e.Domain, Domains)
	check("format", e.Format, Formats)
	check("collection_channel", e.CollectionChannel, Channels)
	check("update_period", e.UpdatePeriod, UpdatePeriods)
	check("share_type", e.ShareType, ShareTypes)
	check("open_type", e.OpenType, OpenTypes)
	switch e.ShareType {
	case "conditional":
		if e.ShareCondition == "" {
			fe["share_condition"] = "a conditional share must state its condition (A-15)"
		}
	case "none":
		if e.ShareBasis == "" {
			fe["share_basis"] = "a resource not shared must cite its legal or policy basis (A-15)"
		}
	}
	if e.OpenType == "none" && e.OpenBasis == "" {
		fe["open_basis"] = "a resource not open must cite its legal basis (A-21)"
	}
	if e.OpenType == "on_application" && e.OpenCondition == "" {
		fe["open_condition"] = "an on-application resource must state who may apply and how"
	}
	if e.ShareType != "none" && len(e.ShareMethods) == 0 {
		fe["share_methods"] = "at least one of " + strings.Join(ShareMethods, ", ")
	}
	for _, m := range e.ShareMethods {
		if !in(m, ShareMethods) {
			fe["share_methods"] = "must be among " + strings.Join(ShareMethods, ", ")
		}
	}
	if e.ResponsiblePerson == "" {
		fe["responsible_person"] = "required (A-22)"
	}
	if e.ResponsibleContact == "" {
		fe["responsible_contact"] = "required"
	}
	if e.OpenType != "none" && e.UsageNote == "" {
		fe["usage_note"] = "open data needs a usage note (A-23)"
	}
	if e.ReleaseDate != "" {
		if _, err := time.Parse("2006-01-02", e.ReleaseDate); err != nil {
			fe["release_date"] = "must be a date YYYY-MM-DD"
		}
	}
	if len(e.Items) == 0 && e.Format == "table" {
		fe["items"] = "a table resource declares its data items"
	}
	seen := map[string]bool{}
	for i, it := range e.Items {
		p := "items[" + strconv.Itoa(i) + "]"
		if !itemNameRe.MatchString(it.Name) {
			fe[p+".name"] = "1–128 characters, no control characters or quotes"
		} else if seen[it.Name] {
			fe[p+".name"] = "duplicate data item name " + it.Name
		}
		seen[it.Name] = true
		if !in(it.Type, ItemTypes) {
			fe[p+".type"] = "must be one of " + strings.Join(ItemTypes, ", ")
		}
		if !in(it.Check, ItemChecks) {
			fe[p+".check"] = "must be one of id_number, credit_code, mobile"
		}
		if it.Personal && !in(it.PersonalAction, PersonalAction) {
			fe[p+".personal_action"] = "must be mask or drop"
		}
		if it.NotFuture && it.Type != "date" && it.Type != "timestamp" {
			fe[p+".not_future"] = "only for date or timestamp items"
		}
	}
	for _, k := range e.KeyColumns {
		if !seen[k] {
			fe["key_columns"] = "names a column that is not a data item: " + k
		}
	}
	return fe.Err()
}

// ItemByName finds a declared data item.
func (e *Entry) ItemByName(name string) (Item, bool) {
	for _, it := range e.Items {
		if it.Name == name {
			return it, true
		}
	}
	return Item{}, false
}

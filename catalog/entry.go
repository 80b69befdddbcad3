// Package catalog is the government data-resource catalog (政务数据资源目录):
// departments, catalog entries with every field the regulation asks for,
// their change history, and the immutable versions ingested for them.
package catalog

import (
	"math"
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
	ShareMethods   = []string{"api", "file", "online", "offline"}
	Channels       = []string{"business_system", "manual_entry", "sensor", "exchange", "survey", "report", "other"}
	Formats        = []string{"table", "file", "api", "geo", "image", "other"}
	ItemChecks     = []string{"", "id_number", "credit_code", "mobile"}
	PersonalAction = []string{"mask", "drop"}
	// Domains are the priority domains of A-24, plus "other".
	Domains = []string{"admin_approval", "credit", "transport", "medical", "health", "geography", "culture",
		"elderly_care", "education", "environment", "tourism", "agriculture", "statistics", "meteorology", "other"}
)

// Item is one data item (信息项): a column of the resource's data.
type Item struct {
	Name           string     `json:"name"`
	Type           ColumnType `json:"type"`
	Description    string     `json:"description,omitempty"`
	Personal       bool       `json:"personal,omitempty"`
	PersonalAction string     `json:"personal_action,omitempty"` // mask (default) or drop, in the open variant
	Required       bool       `json:"required,omitempty"`
	Enum           []string   `json:"enum,omitempty"`
	NotFuture      bool       `json:"not_future,omitempty"`
	// NotPersonal declares that the item holds no personal data although
	// its header or values look like it (an office's public telephone):
	// the ingest then publishes it as it is.
	NotPersonal bool   `json:"not_personal,omitempty"`
	Check       string `json:"check,omitempty"` // id_number, credit_code, mobile
	Unit        string `json:"unit,omitempty"`
	// Min and Max bound a number, date or date-time item (a number, or a
	// date 2006-01-02); Pattern is an RE2 expression the whole value must
	// match. A value outside them keeps its row and flags the cell.
	Min     string `json:"min,omitempty"`
	Max     string `json:"max,omitempty"`
	Pattern string `json:"pattern,omitempty"`
}

// ItemBound reads a declared min or max of an item of type typ: a number
// for int and decimal, days since 1970-01-01 for date, microseconds (UTC
// midnight of the date, or the time given) for timestamp.
func ItemBound(typ ColumnType, v string) (float64, bool) {
	switch typ {
	case ColInt, ColDecimal:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	case ColDate, ColTimestamp:
		v = strings.TrimSpace(v)
		for _, layout := range []string{"2006-01-02", "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
			if t, err := time.Parse(layout, v); err == nil {
				if typ == ColDate {
					return float64(t.Unix() / 86400), layout == "2006-01-02"
				}
				return float64(t.UnixMicro()), true
			}
		}
	}
	return 0, false
}

// Entry is a catalog entry as staff create and edit it.
type Entry struct {
	Code               string    `json:"code"`
	Name               string    `json:"name"`
	NameEn             string    `json:"name_en,omitempty"`
	DepartmentID       int64     `json:"department_id"`
	Summary            string    `json:"summary"`
	CatalogKind        string    `json:"catalog_kind"`
	Domain             string    `json:"domain"`
	Category           string    `json:"category,omitempty"` // 类别
	Level              string    `json:"level,omitempty"`    // 级别
	Format             string    `json:"format"`
	Items              []Item    `json:"items"`
	KeyColumns         []string  `json:"key_columns,omitempty"` // identify one record: the "one data, one source" check
	CollectionChannel  string    `json:"collection_channel"`
	UpdatePeriod       string    `json:"update_period"`
	ShareType          ShareType `json:"share_type"`
	ShareCondition     string    `json:"share_condition,omitempty"`
	ShareBasis         string    `json:"share_basis,omitempty"`
	ShareMethods       []string  `json:"share_methods"`
	OpenType           OpenType  `json:"open_type"`
	OpenCondition      string    `json:"open_condition,omitempty"`
	OpenBasis          string    `json:"open_basis,omitempty"`
	ResponsiblePerson  string    `json:"responsible_person"`
	ResponsibleContact string    `json:"responsible_contact"`
	UsageNote          string    `json:"usage_note,omitempty"`
	Licence            string    `json:"licence,omitempty"`      // the open data's licence; "" for the configured default
	LicenceURL         string    `json:"licence_url,omitempty"`  // where its text is
	ReleaseDate        string    `json:"release_date,omitempty"` // YYYY-MM-DD
	Keywords           []string  `json:"keywords,omitempty"`
	Related            []string  `json:"related,omitempty"` // codes of related resources
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
		&e.Format, &e.CollectionChannel, &e.UpdatePeriod, &e.ShareCondition, &e.ShareBasis,
		&e.OpenCondition, &e.OpenBasis, &e.ResponsiblePerson, &e.ResponsibleContact, &e.UsageNote, &e.ReleaseDate} {
		trim(p)
	}
	e.ShareType = ShareType(strings.TrimSpace(string(e.ShareType)))
	e.OpenType = OpenType(strings.TrimSpace(string(e.OpenType)))
	for i := range e.Items {
		it := &e.Items[i]
		trim(&it.Name)
		it.Type = ColumnType(strings.TrimSpace(string(it.Type)))
		trim(&it.Description)
		if it.Type == "" {
			it.Type = ColString
		}
		if it.Personal && it.PersonalAction == "" {
			it.PersonalAction = "mask"
		}
	}
	if e.ShareMethods == nil {
		e.ShareMethods = []string{}
	}
	e.Keywords, e.Related, e.KeyColumns = cleanList(e.Keywords), cleanList(e.Related), cleanList(e.KeyColumns)
	for i := range e.Items {
		e.Items[i].Enum = cleanList(e.Items[i].Enum)
		e.Items[i].Unit = strings.TrimSpace(e.Items[i].Unit)
	}
}

// cleanList trims each value and drops the empty ones and repeats (nil
// when nothing is left, so an emptied list compares equal to none).
func cleanList(vs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range vs {
		v = strings.TrimSpace(v)
		if v != "" && !seen[v] {
			out, seen[v] = append(out, v), true
		}
	}
	return out
}

// Validation messages are keys of the message catalog (i18n area
// "entry"), so a form shows them in the reader's language and the API's
// error mapper renders them too.
const (
	MsgCode           = "entry.invalid.code"
	MsgCodeTaken      = "entry.invalid.code_taken"
	MsgName           = "entry.invalid.name"
	MsgRequired       = "entry.invalid.required"
	MsgChoice         = "entry.invalid.choice"
	MsgNoDepartment   = "entry.invalid.no_department"
	MsgShareCondition = "entry.invalid.share_condition"
	MsgShareBasis     = "entry.invalid.share_basis"
	MsgOpenBasis      = "entry.invalid.open_basis"
	MsgOpenCondition  = "entry.invalid.open_condition"
	MsgShareMethods   = "entry.invalid.share_methods"
	MsgResponsible    = "entry.invalid.responsible_person"
	MsgUsageNote      = "entry.invalid.usage_note"
	MsgDate           = "entry.invalid.date"
	MsgItemsRequired  = "entry.invalid.items_required"
	MsgItemName       = "entry.invalid.item_name"
	MsgItemDuplicate  = "entry.invalid.item_duplicate"
	MsgNotFuture      = "entry.invalid.not_future"
	MsgRangeType      = "entry.invalid.range_type"
	MsgRangeValue     = "entry.invalid.range_value"
	MsgRangeOrder     = "entry.invalid.range_order"
	MsgPattern        = "entry.invalid.pattern"
	MsgPersonalAction = "entry.invalid.personal_action"
	MsgNotPersonal    = "entry.invalid.not_personal"
	MsgKeyColumn      = "entry.invalid.key_column"
	MsgTooLong        = "entry.invalid.too_long"
	MsgTooMany        = "entry.invalid.too_many"
	MsgRelated        = "entry.invalid.related"
)

// Bounds on what one entry may hold, so a form or an API call cannot make
// an entry that no page can show.
const (
	MaxItems    = 500
	MaxPattern  = 500  // bytes of a data item's pattern
	MaxText     = 4000 // summary, usage note, conditions and bases
	MaxShort    = 200  // names, persons, contacts, category, level
	MaxKeywords = 50
	MaxRelated  = 50
	MaxEnum     = 200
)

// Validate checks every rule the regulation sets on an entry and names each
// offending field (items by their index: "items[3].type").
func (e *Entry) Validate() error {
	fe := errs.FieldErrors{}
	if !codeRe.MatchString(e.Code) {
		fe["code"] = MsgCode
	}
	if n := utf8.RuneCountInString(e.Name); n < 2 || n > MaxShort {
		fe["name"] = MsgName
	}
	if utf8.RuneCountInString(e.NameEn) > MaxShort {
		fe["name_en"] = MsgTooLong
	}
	if e.DepartmentID <= 0 {
		fe["department_id"] = MsgNoDepartment
	}
	if e.Summary == "" {
		fe["summary"] = MsgRequired
	}
	for field, v := range map[string]string{"summary": e.Summary, "share_condition": e.ShareCondition, "share_basis": e.ShareBasis,
		"open_condition": e.OpenCondition, "open_basis": e.OpenBasis, "usage_note": e.UsageNote} {
		if utf8.RuneCountInString(v) > MaxText {
			fe[field] = MsgTooLong
		}
	}
	if msg := checkLicence(e.Licence, e.LicenceURL); msg != "" {
		fe["licence_url"] = msg
	}
	for field, v := range map[string]string{"category": e.Category, "level": e.Level, "responsible_person": e.ResponsiblePerson,
		"responsible_contact": e.ResponsibleContact, "licence": e.Licence} {
		if utf8.RuneCountInString(v) > MaxShort {
			fe[field] = MsgTooLong
		}
	}
	check := func(field, v string, set []string) {
		if !in(v, set) {
			fe[field] = MsgChoice
		}
	}
	check("catalog_kind", e.CatalogKind, CatalogKinds)
	check("domain", e.Domain, Domains)
	check("format", e.Format, Formats)
	check("collection_channel", e.CollectionChannel, Channels)
	check("update_period", e.UpdatePeriod, UpdatePeriods)
	if !valid(e.ShareType, ShareTypes) {
		fe["share_type"] = MsgChoice
	}
	if !valid(e.OpenType, OpenTypes) {
		fe["open_type"] = MsgChoice
	}
	switch e.ShareType {
	case ShareConditional:
		if e.ShareCondition == "" {
			fe["share_condition"] = MsgShareCondition
		}
	case ShareNone:
		if e.ShareBasis == "" {
			fe["share_basis"] = MsgShareBasis
		}
	}
	if e.OpenType == OpenNone && e.OpenBasis == "" {
		fe["open_basis"] = MsgOpenBasis
	}
	if e.OpenType == OpenOnApplication && e.OpenCondition == "" {
		fe["open_condition"] = MsgOpenCondition
	}
	if e.ShareType.Shared() && len(e.ShareMethods) == 0 {
		fe["share_methods"] = MsgShareMethods
	}
	for _, m := range e.ShareMethods {
		if !in(m, ShareMethods) {
			fe["share_methods"] = MsgChoice
		}
	}
	if e.ResponsiblePerson == "" {
		fe["responsible_person"] = MsgResponsible
	}
	if e.ResponsibleContact == "" {
		fe["responsible_contact"] = MsgRequired
	}
	if e.OpenType != OpenNone && e.UsageNote == "" {
		fe["usage_note"] = MsgUsageNote
	}
	if e.ReleaseDate != "" {
		if _, err := time.Parse("2006-01-02", e.ReleaseDate); err != nil {
			fe["release_date"] = MsgDate
		}
	}
	if len(e.Keywords) > MaxKeywords {
		fe["keywords"] = MsgTooMany
	}
	for _, k := range e.Keywords {
		if utf8.RuneCountInString(k) > 64 {
			fe["keywords"] = MsgTooLong
		}
	}
	if len(e.Related) > MaxRelated {
		fe["related"] = MsgTooMany
	}
	for _, c := range e.Related {
		if !codeRe.MatchString(c) {
			fe["related"] = MsgRelated
		}
	}
	if len(e.Items) == 0 && e.Format == "table" {
		fe["items"] = MsgItemsRequired
	}
	if len(e.Items) > MaxItems {
		fe["items"] = MsgTooMany
	}
	seen := map[string]bool{}
	for i, it := range e.Items {
		p := "items[" + strconv.Itoa(i) + "]"
		if !itemNameRe.MatchString(it.Name) {
			fe[p+".name"] = MsgItemName
		} else if seen[it.Name] {
			fe[p+".name"] = MsgItemDuplicate
		}
		seen[it.Name] = true
		if !valid(it.Type, ColumnTypes) {
			fe[p+".type"] = MsgChoice
		}
		if utf8.RuneCountInString(it.Description) > 1000 {
			fe[p+".description"] = MsgTooLong
		}
		if utf8.RuneCountInString(it.Unit) > 32 {
			fe[p+".unit"] = MsgTooLong
		}
		if !in(it.Check, ItemChecks) {
			fe[p+".check"] = MsgChoice
		}
		if it.Personal && !in(it.PersonalAction, PersonalAction) {
			fe[p+".personal_action"] = MsgPersonalAction
		}
		if it.Personal && it.NotPersonal {
			fe[p+".not_personal"] = MsgNotPersonal
		}
		if it.NotFuture && it.Type != "date" && it.Type != "timestamp" {
			fe[p+".not_future"] = MsgNotFuture
		}
		if len(it.Enum) > MaxEnum {
			fe[p+".enum"] = MsgTooMany
		}
		var bounds [2]float64
		for k, b := range []struct{ key, v string }{{"min", it.Min}, {"max", it.Max}} {
			if b.v == "" {
				continue
			}
			f, ok := ItemBound(it.Type, b.v)
			switch {
			case !it.Type.Numeric() && it.Type != ColDate && it.Type != ColTimestamp:
				fe[p+"."+b.key] = MsgRangeType
			case !ok:
				fe[p+"."+b.key] = MsgRangeValue
			}
			bounds[k] = f
		}
		if it.Min != "" && it.Max != "" && fe[p+".min"] == "" && fe[p+".max"] == "" && bounds[0] > bounds[1] {
			fe[p+".max"] = MsgRangeOrder
		}
		if it.Pattern != "" {
			if _, err := regexp.Compile(it.Pattern); err != nil || len(it.Pattern) > MaxPattern {
				fe[p+".pattern"] = MsgPattern
			}
		}
	}
	for _, k := range e.KeyColumns {
		if !seen[k] {
			fe["key_columns"] = MsgKeyColumn
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

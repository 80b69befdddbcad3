package catalog

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"opendata/i18n"
)

// The history is kept as raw field changes; people read it as sentences
// ("张三 把更新周期由 每月 改为 每周"). These functions turn one into the
// other, in the reader's language, with every code said as a word.

// fieldGroups names the message group of each field whose values are codes
// ("update_period" → "update_period.monthly"); other fields are text.
var fieldGroups = map[string]string{
	"catalog_kind": "catalog_kind", "domain": "domain", "format": "format", "collection_channel": "collection_channel",
	"update_period": "update_period", "share_type": "share_type", "open_type": "open_type", "share_methods": "share_method",
}

// itemGroups is the same for the attributes of a data item.
var itemGroups = map[string]string{"type": "type", "check": "item_check", "personal_action": "personal_action"}

// FieldLabel is a field's name for people ("update_period" → 更新周期); an
// item's attribute is "items.type" and the like.
func FieldLabel(lang, field string) string {
	return i18n.T(lang, "field."+field, nil)
}

// Departments names departments by id for the history's words.
type Departments func(id int64) string

// Describe says one history entry in words, one sentence per change, in
// a stable order (the order of the entry's fields).
func Describe(lang string, h HistoryEntry, depts Departments) []string {
	actor := h.Actor
	if actor == "" {
		actor = i18n.T(lang, "history.someone", nil)
	}
	switch h.Action {
	case "create":
		return []string{i18n.T(lang, "history.create", map[string]string{"actor": actor})}
	case "retire":
		return []string{i18n.T(lang, "history.retire", map[string]string{"actor": actor, "reason": text(h.Changes["retired"].To)})}
	case "restore":
		return []string{i18n.T(lang, "history.restore", map[string]string{"actor": actor})}
	}
	var out []string
	for _, field := range entryFields() {
		c, ok := h.Changes[field]
		if !ok {
			continue
		}
		if field == "items" {
			out = append(out, describeItems(lang, actor, c)...)
			continue
		}
		from, to := say(lang, field, c.From, depts), say(lang, field, c.To, depts)
		out = append(out, sentence(lang, actor, FieldLabel(lang, field), from, to))
	}
	// Fields this version of the program does not know (removed since).
	for field, c := range h.Changes {
		if !isEntryField(field) {
			out = append(out, sentence(lang, actor, field, text(c.From), text(c.To)))
		}
	}
	return out
}

func sentence(lang, actor, field, from, to string) string {
	p := map[string]string{"actor": actor, "field": field, "from": from, "to": to}
	switch {
	case from == "":
		return i18n.T(lang, "history.set_new", p)
	case to == "":
		return i18n.T(lang, "history.cleared", p)
	}
	return i18n.T(lang, "history.set", p)
}

// entryFields are the JSON names of Entry's fields, in declaration order.
func entryFields() []string {
	t := reflect.TypeOf(Entry{})
	out := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}

func isEntryField(name string) bool {
	for _, f := range entryFields() {
		if f == name {
			return true
		}
	}
	return false
}

// say renders a stored value (decoded from JSON, so numbers are float64
// and lists are []any) for people: codes as words, departments by name,
// lists joined, long texts shortened, an empty value as "".
func say(lang, field string, v any, depts Departments) string {
	if field == "department_id" {
		if n, ok := v.(float64); ok && n > 0 && depts != nil {
			if name := depts(int64(n)); name != "" {
				return name
			}
		}
		return text(v)
	}
	group := fieldGroups[field]
	if list, ok := v.([]any); ok {
		var parts []string
		for _, x := range list {
			parts = append(parts, word(lang, group, text(x)))
		}
		return strings.Join(parts, i18n.T(lang, "history.list_sep", nil))
	}
	return word(lang, group, text(v))
}

// word turns a code into its label when the field has a group.
func word(lang, group, v string) string {
	if group == "" || v == "" {
		return quote(lang, v)
	}
	if key := group + "." + v; i18n.Has(key) {
		return i18n.T(lang, key, nil)
	}
	return v
}

// quote marks a free text as quoted and shortens it for a sentence.
func quote(lang, v string) string {
	if v == "" {
		return ""
	}
	if utf8.RuneCountInString(v) > 60 {
		v = string([]rune(v)[:59]) + "…"
	}
	return i18n.T(lang, "history.quoted", map[string]string{"text": v})
}

// plainString turns a value of a string kind (the typed vocabularies:
// ColumnType, ShareType, …) into a plain string; other values pass.
func plainString(v any) any {
	if rv := reflect.ValueOf(v); rv.IsValid() && rv.Kind() == reflect.String {
		return rv.String()
	}
	return v
}

func text(v any) string {
	v = plainString(v)
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return ""
	case float64:
		if x == 0 {
			return ""
		}
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// items decodes a stored list of data items.
func items(v any) []Item {
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	var out []Item
	json.Unmarshal(b, &out)
	return out
}

// describeItems says what changed in the data items: added, removed,
// renamed (a removal and an addition at the same place), changed
// attributes, and a new order.
func describeItems(lang, actor string, c Change) []string {
	before, after := items(c.From), items(c.To)
	byName := func(list []Item) map[string]int {
		m := map[string]int{}
		for i, it := range list {
			m[it.Name] = i
		}
		return m
	}
	oldAt, newAt := byName(before), byName(after)
	p := func(kv ...string) map[string]string {
		m := map[string]string{"actor": actor}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	var out []string
	renamed := map[string]string{} // new name → old name
	for i, it := range after {
		if _, kept := oldAt[it.Name]; kept || i >= len(before) {
			continue
		}
		if old := before[i]; !has(newAt, old.Name) {
			renamed[it.Name] = old.Name
		}
	}
	wasRenamed := map[string]bool{}
	for _, old := range renamed {
		wasRenamed[old] = true
	}
	for _, it := range before {
		if _, kept := newAt[it.Name]; !kept && !wasRenamed[it.Name] {
			out = append(out, i18n.T(lang, "history.item_removed", p("name", it.Name)))
		}
	}
	for _, it := range after {
		oldName, isRename := renamed[it.Name]
		i, kept := oldAt[it.Name]
		switch {
		case isRename:
			out = append(out, i18n.T(lang, "history.item_renamed", p("from", oldName, "to", it.Name)))
			out = append(out, itemChanges(lang, actor, before[oldAt[oldName]], it)...)
		case kept:
			out = append(out, itemChanges(lang, actor, before[i], it)...)
		default:
			out = append(out, i18n.T(lang, "history.item_added", p("name", it.Name, "type", it.Type.Label(lang))))
		}
	}
	if reordered(before, after, renamed) {
		out = append(out, i18n.T(lang, "history.items_reordered", p()))
	}
	return out
}

func has(m map[string]int, name string) bool {
	_, ok := m[name]
	return ok
}

// reordered reports whether the items both lists hold are in another order.
func reordered(before, after []Item, renamed map[string]string) bool {
	var a, b []string
	inAfter := map[string]bool{}
	for _, it := range after {
		name := it.Name
		if old, ok := renamed[name]; ok {
			name = old
		}
		inAfter[name] = true
	}
	for _, it := range before {
		if inAfter[it.Name] {
			a = append(a, it.Name)
		}
	}
	inBefore := map[string]bool{}
	for _, it := range before {
		inBefore[it.Name] = true
	}
	for _, it := range after {
		name := it.Name
		if old, ok := renamed[name]; ok {
			name = old
		}
		if inBefore[name] {
			b = append(b, name)
		}
	}
	return !reflect.DeepEqual(a, b)
}

// itemChanges says which attributes of one data item changed.
func itemChanges(lang, actor string, a, b Item) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	t := va.Type()
	var out []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "name" || reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			continue
		}
		from, to := itemValue(lang, name, va.Field(i).Interface()), itemValue(lang, name, vb.Field(i).Interface())
		if from == to {
			continue // e.g. nil and empty list
		}
		out = append(out, i18n.T(lang, "history.item_changed", map[string]string{"actor": actor, "name": b.Name,
			"field": FieldLabel(lang, "items."+name), "from": orNone(lang, from), "to": orNone(lang, to)}))
	}
	return out
}

func itemValue(lang, attr string, v any) string {
	v = plainString(v)
	switch x := v.(type) {
	case bool:
		return i18n.T(lang, fmt.Sprintf("bool.%t", x), nil)
	case []string:
		return strings.Join(x, i18n.T(lang, "history.list_sep", nil))
	case string:
		if g := itemGroups[attr]; g != "" {
			return word(lang, g, x)
		}
		return quote(lang, x)
	case *float64:
		if x == nil {
			return ""
		}
		return fmt.Sprint(*x)
	}
	return text(v)
}

func orNone(lang, s string) string {
	if s == "" {
		return i18n.T(lang, "history.none", nil)
	}
	return s
}

// ChangesSince lists the history entries made after revision rev (what
// someone else changed while a form was open), oldest first.
func ChangesSince(h []HistoryEntry, rev int) []HistoryEntry {
	var out []HistoryEntry
	for _, e := range h {
		if e.Revision > rev {
			out = append(out, e)
		}
	}
	return out
}

// ChangedFields is the set of fields the entries changed.
func ChangedFields(h []HistoryEntry) map[string]bool {
	out := map[string]bool{}
	for _, e := range h {
		for f := range e.Changes {
			out[f] = true
		}
	}
	return out
}

// FieldValue says what field holds in e, in words (the conflict view shows
// it beside a field someone else changed); data items are listed by name.
func FieldValue(lang string, e Entry, field string, depts Departments) string {
	var m map[string]any
	b, _ := json.Marshal(e)
	json.Unmarshal(b, &m)
	if field == "items" {
		var names []string
		for _, it := range e.Items {
			names = append(names, it.Name)
		}
		return orNone(lang, strings.Join(names, i18n.T(lang, "history.list_sep", nil)))
	}
	return orNone(lang, say(lang, field, m[field], depts))
}

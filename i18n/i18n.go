// Package i18n is the one message catalog for user-facing text: Simplified
// Chinese first, English second. Messages are keyed; "{name}" placeholders
// are filled from params.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
)

// Each language is a folder of JSON files, one per area of the product
// (locales/zh-CN/ingest.json, …); a key defined in two files is a defect.
//
//go:embed locales/*/*.json
var files embed.FS

// Languages, default first.
const (
	ZH = "zh-CN"
	EN = "en"
)

var catalogs = map[string]map[string]string{}

func init() {
	for _, lang := range []string{ZH, EN} {
		m, err := load(lang)
		if err != nil {
			panic(err)
		}
		catalogs[lang] = m
	}
}

// load merges every file of one language.
func load(lang string) (map[string]string, error) {
	names, err := fs.Glob(files, "locales/"+lang+"/*.json")
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("i18n: no message files for %s", lang)
	}
	m := map[string]string{}
	from := map[string]string{}
	for _, name := range names {
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		part := map[string]string{}
		if err := json.Unmarshal(b, &part); err != nil {
			return nil, fmt.Errorf("i18n: %s: %v", name, err)
		}
		for k, v := range part {
			if prev, dup := from[k]; dup {
				return nil, fmt.Errorf("i18n: key %q in both %s and %s", k, prev, name)
			}
			m[k], from[k] = v, name
		}
	}
	return m, nil
}

// Missing marks a key without a message, so tests and pages can spot it.
const Missing = "‽"

// T renders key in lang (falling back to Chinese), filling placeholders.
func T(lang, key string, params map[string]string) string {
	m, ok := catalogs[Lang(lang)][key]
	if !ok {
		if m, ok = catalogs[ZH][key]; !ok {
			return Missing + key
		}
	}
	if len(params) == 0 || !strings.Contains(m, "{") {
		return m
	}
	pairs := make([]string, 0, 2*len(params))
	for k, v := range params {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(m)
}

// Has reports whether key has a message.
func Has(key string) bool {
	_, ok := catalogs[ZH][key]
	return ok
}

// Text renders s in lang when it is a message key or a Msg (a key with its
// parameters), and returns it as it is otherwise (field errors hold either).
func Text(lang, s string) string {
	if Has(s) {
		return T(lang, s, nil)
	}
	if key, query, ok := strings.Cut(s, "?"); ok && Has(key) {
		if v, err := url.ParseQuery(query); err == nil {
			params := make(map[string]string, len(v))
			for k := range v {
				params[k] = v.Get(k)
			}
			return T(lang, key, params)
		}
	}
	return s
}

// Msg is a message key with its parameters (pairs of name and value) in
// one string, for a place that holds text before the reader's language is
// known (a field error): Text renders it.
//
//	errs.FieldErrors{"term_days": i18n.Msg("err.field.days", "min", 1, "max", 1095)}
func Msg(key string, kv ...any) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(fmt.Sprint(kv[i]), fmt.Sprint(kv[i+1]))
	}
	if len(v) == 0 {
		return key
	}
	return key + "?" + v.Encode()
}

// Lang normalises a language tag or Accept-Language header to ZH or EN.
func Lang(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.HasPrefix(s, "en") {
		return EN
	}
	return ZH
}

// Keys lists every key of lang, sorted (for the catalog completeness test).
func Keys(lang string) []string {
	var out []string
	for k := range catalogs[lang] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

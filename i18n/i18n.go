// Package i18n is the one message catalog for user-facing text: Simplified
// Chinese first, English second. Messages are keyed; "{name}" placeholders
// are filled from params.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

//go:embed locales/*.json
var files embed.FS

// Languages, default first.
const (
	ZH = "zh-CN"
	EN = "en"
)

var catalogs = map[string]map[string]string{}

func init() {
	for _, lang := range []string{ZH, EN} {
		b, err := files.ReadFile("locales/" + lang + ".json")
		if err != nil {
			panic(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			panic(fmt.Sprintf("i18n: %s: %v", lang, err))
		}
		catalogs[lang] = m
	}
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

package catalog

import "opendata/i18n"

// NameIn is the department's name in language lang: the English name in
// English where there is one, the Chinese name otherwise.
func (d Department) NameIn(lang string) string {
	if i18n.Lang(lang) == i18n.EN && d.NameEn != "" {
		return d.NameEn
	}
	return d.Name
}

// NameIn is the entry's title in language lang: the English title in
// English where there is one, the Chinese title otherwise.
func (e Entry) NameIn(lang string) string {
	if i18n.Lang(lang) == i18n.EN && e.NameEn != "" {
		return e.NameEn
	}
	return e.Name
}

package publish

import (
	"strings"

	"opendata/catalog"
)

// ExampleFilter picks the column and value a dataset page's API examples
// filter on, so that the copied example returns rows: the first text
// column kept as it is in the open variant whose value in the first
// preview row is filled and quotes safely in a shell, Python, JavaScript
// and Go string (no quotes, backslash, $, backtick or line break). header
// and row are the preview's; ok is false when no column qualifies.
func ExampleFilter(cols []catalog.VersionColumn, header, row []string) (col, val string, ok bool) {
	kept := map[string]bool{}
	for _, c := range cols {
		if c.Type == "string" && c.Open == catalog.TreatKept {
			kept[c.Name] = true
		}
	}
	for i, name := range header {
		if !kept[name] || i >= len(row) {
			continue
		}
		v := row[i]
		if v == "" || len(v) > 100 || strings.ContainsAny(v, "'\"\\$`\r\n\t") || strings.ContainsAny(name, "'\"\\$`\r\n\t ") {
			continue
		}
		return name, v, true
	}
	return "", "", false
}

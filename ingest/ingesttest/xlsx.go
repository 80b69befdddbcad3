package ingesttest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Bomb is how an XLSX zip bomb carries its bulk.
type Bomb int

const (
	// InlineCell: cell B2 holds an inline string of the given size.
	InlineCell Bomb = iota
	// SharedCell: cell B2 shows shared string 0, of the given size.
	SharedCell
	// SharedRow: row 2 shows one shared string of the given size in each
	// of 1,000 cells (the row is a thousand times the string once read).
	SharedRow
)

// XLSXBomb writes a small valid workbook (a header row "名称,说明" and one
// data row) whose one value inflates to size bytes: a run of one letter
// compresses about a thousand times, so a 1 GB cell is a file of about 1 MB.
func XLSXBomb(w io.Writer, kind Bomb, size int64) error {
	zw := zip.NewWriter(w)
	if err := workbookParts(zw, []string{"Sheet1"}); err != nil {
		return err
	}
	header := `<row r="1"><c r="A1" t="inlineStr"><is><t>名称</t></is></c><c r="B1" t="inlineStr"><is><t>说明</t></is></c></row>`
	sheet, err := zw.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		return err
	}
	io.WriteString(sheet, sheetHead+header)
	switch kind {
	case InlineCell:
		io.WriteString(sheet, `<row r="2"><c r="A2" t="inlineStr"><is><t>甲</t></is></c><c r="B2" t="inlineStr"><is><t>`)
		if err := repeat(sheet, 'a', size); err != nil {
			return err
		}
		io.WriteString(sheet, `</t></is></c></row>`)
	case SharedCell:
		io.WriteString(sheet, `<row r="2"><c r="A2" t="inlineStr"><is><t>甲</t></is></c><c r="B2" t="s"><v>0</v></c></row>`)
	case SharedRow:
		io.WriteString(sheet, `<row r="2">`)
		for i := 0; i < 1000; i++ {
			fmt.Fprintf(sheet, `<c r="%s2" t="s"><v>0</v></c>`, ColumnName(i))
		}
		io.WriteString(sheet, `</row>`)
	}
	io.WriteString(sheet, sheetTail)
	if kind == SharedCell || kind == SharedRow {
		sst, err := zw.Create("xl/sharedStrings.xml")
		if err != nil {
			return err
		}
		io.WriteString(sst, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>`)
		if err := repeat(sst, 'a', size); err != nil {
			return err
		}
		io.WriteString(sst, `</t></si></sst>`)
	}
	return zw.Close()
}

// Sheet is one worksheet of a generated workbook: its name and its rows of
// cells. "=SUM(B2:B4)|60" is a formula with its cached value as a
// spreadsheet saves it ("=SUM(B2:B4)|" one without); any other cell that
// starts with "=" is text;
// a cell that parses as a number is a number; anything else an inline string.
type Sheet struct {
	Name   string
	Rows   [][]string
	Hidden bool
}

// XLSX writes a workbook of the given sheets.
func XLSX(w io.Writer, sheets ...Sheet) error {
	zw := zip.NewWriter(w)
	names := make([]string, len(sheets))
	for i, s := range sheets {
		names[i] = s.Name
		if s.Hidden {
			names[i] += "\x00hidden"
		}
	}
	if err := workbookParts(zw, names); err != nil {
		return err
	}
	for i, s := range sheets {
		part, err := zw.Create(fmt.Sprintf("xl/worksheets/sheet%d.xml", i+1))
		if err != nil {
			return err
		}
		var b bytes.Buffer
		b.WriteString(sheetHead)
		for r, row := range s.Rows {
			fmt.Fprintf(&b, `<row r="%d">`, r+1)
			for c, v := range row {
				if v == "" {
					continue
				}
				ref := fmt.Sprintf("%s%d", ColumnName(c), r+1)
				switch {
				case strings.HasPrefix(v, "=") && strings.Contains(v, "|"):
					formula, cached, _ := strings.Cut(v[1:], "|")
					if cached != "" {
						fmt.Fprintf(&b, `<c r="%s"><f>%s</f><v>%s</v></c>`, ref, xmlEscape(formula), xmlEscape(cached))
					} else {
						fmt.Fprintf(&b, `<c r="%s"><f>%s</f></c>`, ref, xmlEscape(formula))
					}
				case isNumber(v):
					fmt.Fprintf(&b, `<c r="%s"><v>%s</v></c>`, ref, v)
				default:
					fmt.Fprintf(&b, `<c r="%s" t="inlineStr"><is><t xml:space="preserve">%s</t></is></c>`, ref, xmlEscape(v))
				}
			}
			b.WriteString(`</row>`)
		}
		b.WriteString(sheetTail)
		if _, err := part.Write(b.Bytes()); err != nil {
			return err
		}
	}
	return zw.Close()
}

const sheetHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetData>`
const sheetTail = `</sheetData></worksheet>`

// workbookParts writes the parts every workbook needs for the named sheets
// (a name ending in "\x00hidden" is a hidden sheet).
func workbookParts(zw *zip.Writer, sheets []string) error {
	var types, wb, rels strings.Builder
	types.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>`)
	wb.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>`)
	rels.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`)
	for i, name := range sheets {
		state := ""
		if n, ok := strings.CutSuffix(name, "\x00hidden"); ok {
			name, state = n, ` state="hidden"`
		}
		fmt.Fprintf(&types, `<Override PartName="/xl/worksheets/sheet%d.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`, i+1)
		fmt.Fprintf(&wb, `<sheet name="%s" sheetId="%d"%s r:id="rId%d"/>`, xmlEscape(name), i+1, state, i+1)
		fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet%d.xml"/>`, i+1, i+1)
	}
	fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>`, len(sheets)+1)
	types.WriteString(`</Types>`)
	wb.WriteString(`</sheets></workbook>`)
	rels.WriteString(`</Relationships>`)
	parts := []struct{ name, body string }{
		{"[Content_Types].xml", types.String()},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", wb.String()},
		{"xl/_rels/workbook.xml.rels", rels.String()},
	}
	for _, p := range parts {
		w, err := zw.Create(p.name)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, p.body); err != nil {
			return err
		}
	}
	return nil
}

// ColumnName is a spreadsheet column's letters (0 → A, 26 → AA).
func ColumnName(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('A'+(i-1)%26)) + s
	}
	return s
}

func repeat(w io.Writer, c byte, n int64) error {
	chunk := bytes.Repeat([]byte{c}, 1<<20)
	for n > 0 {
		k := min(n, int64(len(chunk)))
		if _, err := w.Write(chunk[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func xmlEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\r':
			b.WriteString("&#13;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	dot := false
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9':
		case c == '-' && i == 0 && len(s) > 1:
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return true
}

// LongJSONString is a JSON array of one record whose "说明" is a string of
// size bytes.
func LongJSONString(size int) []byte {
	return []byte(`[{"名称":"甲","说明":"` + strings.Repeat("a", size) + `"}]`)
}

// DeepJSON is a JSON array of one record whose "说明" nests depth arrays.
func DeepJSON(depth int) []byte {
	return []byte(`[{"名称":"甲","说明":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}]`)
}

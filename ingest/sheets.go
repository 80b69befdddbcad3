package ingest

import (
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"opendata/catalog"
)

// SheetChoice is which sheet of a workbook was read and why, and why each
// other sheet was not (quality.json, the job page, `opendata ingest --json`).
type SheetChoice struct {
	Used    string         `json:"used"`
	Reason  SheetReason    `json:"reason"`
	Skipped []SkippedSheet `json:"skipped,omitempty"`
	// UsageNoteDraft is the text of a note sheet (说明, 填报说明, a cover
	// page), offered as a draft of the entry's usage note.
	UsageNoteDraft string `json:"usage_note_draft,omitempty"`
}

// SkippedSheet is a sheet not read, and why.
type SkippedSheet struct {
	Name   string      `json:"name"`
	Reason SheetReason `json:"reason"`
}

// SheetReason says why a sheet was read or skipped.
type SheetReason string

const (
	SheetNamed        SheetReason = "named"          // --sheet / the upload's sheet
	SheetDeclared     SheetReason = "declared_items" // its header names the declared data items
	SheetFirstTable   SheetReason = "first_table"    // the first sheet that looks like a table
	SheetFirstVisible SheetReason = "first_visible"  // no sheet looks like a table: the first visible one
	SheetHidden       SheetReason = "hidden"
	SheetEmpty        SheetReason = "empty"
	SheetNote         SheetReason = "note"        // text, not a table (a header row with typed rows below)
	SheetOtherTable   SheetReason = "other_table" // a table whose header does not name the declared items
	SheetLater        SheetReason = "later_table" // a table after the one read
)

// sheetHeadRows is how many rows of each sheet the choice looks at.
const (
	sheetHeadRows  = 30
	noteDraftRows  = 200
	noteDraftBytes = 8 << 10
)

// sheetLook is what the first rows of a sheet show.
type sheetLook struct {
	name    string
	hidden  bool
	empty   bool
	table   bool // a header with typed rows below
	text    bool // a header with rows of text below (a register of names)
	matched int  // declared items named in its header
	content string
}

// chooseSheet picks the sheet to read. A named sheet is read as named.
// Otherwise the sheet whose header names most declared items, else the
// first sheet that looks like a table (a header row and rows of at least
// two cells below it, with a number or a date among them), else the first
// visible sheet.
func chooseSheet(f *excelize.File, opt Options) (*SheetChoice, error) {
	sheets := f.GetSheetList()
	if opt.Sheet != "" {
		s, err := pickSheet(f, opt.Sheet)
		if err != nil {
			return nil, err
		}
		return &SheetChoice{Used: s, Reason: SheetNamed}, nil
	}
	if len(sheets) == 0 {
		return nil, wrapBadWorkbook(errNoSheets)
	}
	looks := make([]sheetLook, len(sheets))
	for i, s := range sheets {
		looks[i] = lookAtSheet(f, s, opt)
	}
	used, reason := -1, SheetFirstVisible
	best := 0
	for i, l := range looks {
		if !l.hidden && l.matched > best {
			used, reason, best = i, SheetDeclared, l.matched
		}
	}
	if used < 0 {
		for i, l := range looks {
			if !l.hidden && l.table {
				used, reason = i, SheetFirstTable
				break
			}
		}
	}
	if used < 0 { // a table of text only (names, addresses): two rows of two cells at least
		for i, l := range looks {
			if !l.hidden && l.text {
				used, reason = i, SheetFirstTable
				break
			}
		}
	}
	if used < 0 {
		for i, l := range looks {
			if !l.hidden {
				used = i
				break
			}
		}
		if used < 0 {
			used = 0
		}
	}
	ch := &SheetChoice{Used: sheets[used], Reason: reason}
	for i, l := range looks {
		if i == used {
			continue
		}
		r := SheetNote
		switch {
		case l.hidden:
			r = SheetHidden
		case l.empty:
			r = SheetEmpty
		case (l.table || l.text) && reason == SheetDeclared:
			r = SheetOtherTable
		case l.table || l.text:
			r = SheetLater
		}
		if r == SheetNote && ch.UsageNoteDraft == "" {
			ch.UsageNoteDraft = l.content
		}
		ch.Skipped = append(ch.Skipped, SkippedSheet{Name: l.name, Reason: r})
	}
	return ch, nil
}

// lookAtSheet reads the first rows of a sheet (raw values: within the
// limits checkWorkbook enforced) and, for a sheet of text, its text.
func lookAtSheet(f *excelize.File, sheet string, opt Options) sheetLook {
	l := sheetLook{name: sheet}
	if v, err := f.GetSheetVisible(sheet); err == nil && !v {
		l.hidden = true
		return l
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		l.empty = true
		return l
	}
	defer rows.Close()
	var head [][]string
	var text strings.Builder
	for n := 0; n < noteDraftRows && rows.Next(); n++ {
		rec, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			break
		}
		if len(rec) > opt.MaxColumns {
			rec = rec[:opt.MaxColumns]
		}
		if n < sheetHeadRows {
			head = append(head, rec)
		}
		var line []string
		for _, v := range rec {
			if v = trimCell(v); v != "" {
				line = append(line, v)
			}
		}
		if len(line) > 0 && text.Len() < noteDraftBytes {
			text.WriteString(strings.Join(line, " ") + "\n")
		}
	}
	l.content = strings.TrimSpace(text.String())
	if len(l.content) > noteDraftBytes {
		l.content = strings.ToValidUTF8(l.content[:noteDraftBytes], "")
	}
	l.empty = l.content == ""
	l.table, l.text, l.matched = looksLikeTable(head, opt.Items)
	return l
}

// looksLikeTable: a header row (chosen as the ingest chooses it) of at
// least two names, and below it a row of at least two cells one of which
// is a number or a date (table), or at least two rows of two cells or more
// (text: a register of names and addresses). matched counts the declared
// items the header names.
func looksLikeTable(head [][]string, items []catalog.Item) (table, text bool, matched int) {
	if len(head) == 0 {
		return false, false, 0
	}
	h := pickHeader(head, items)
	if nonEmpty(head[h]) < 2 {
		return false, false, 0
	}
	names := map[string]bool{}
	for _, it := range items {
		names[it.Name] = true
	}
	for _, v := range head[h] {
		if names[trimCell(v)] {
			matched++
		}
	}
	if matched*2 < len(items) && matched*2 < nonEmpty(head[h]) {
		matched = 0 // a stray name or two is not the declared table
	}
	rows := 0
	for _, rec := range head[h+1:] {
		if nonEmpty(rec) < 2 {
			continue
		}
		rows++
		for _, v := range rec {
			v = trimCell(v)
			if _, err := strconv.ParseFloat(normNumber(v), 64); err == nil && v != "" {
				return true, true, matched
			}
			if _, ok := parseDate(v); ok {
				return true, true, matched
			}
		}
	}
	return false, rows >= 2, matched
}

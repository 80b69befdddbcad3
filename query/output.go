package query

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"opendata/csvsafe"

	"opendata/catalog"
)

// Meta opens a JSON answer.
type Meta struct {
	Resource int64  `json:"resource"`
	Version  int    `json:"version"`
	Variant  string `json:"variant"`
	Fields   Schema `json:"fields"`
	Count    *int64 `json:"count,omitempty"`
	Limit    int    `json:"limit"`
	Offset   int    `json:"offset"`
}

// Writer streams rows in one format.
type Writer interface {
	Begin(Meta) error
	Row([]any) error
	// End closes the answer; next is the cursor of the following page ("" at the end).
	End(next string) error
}

// ContentType is the media type of a format.
func ContentType(format string) string {
	switch format {
	case "ndjson":
		return "application/x-ndjson; charset=utf-8"
	case "csv":
		return "text/csv; charset=utf-8"
	}
	return "application/json; charset=utf-8"
}

// NewWriter writes rows of fields to w as JSON, NDJSON or CSV. CSV is made
// for spreadsheets: a cell that one would run as a formula gets a leading
// apostrophe (csvsafe.Cell), unless raw asks for the exact text.
func NewWriter(format string, w io.Writer, fields Schema, loc *time.Location, raw bool) Writer {
	bw := bufio.NewWriterSize(w, 32<<10)
	switch format {
	case "ndjson":
		return &ndjsonWriter{w: bw, fields: fields, loc: loc}
	case "csv":
		return &csvWriter{w: csv.NewWriter(bw), bw: bw, fields: fields, loc: loc, safe: !raw}
	}
	return &jsonWriter{w: bw, fields: fields, loc: loc}
}

// Value is the JSON value of a cell of a column type.
func Value(v any, typ catalog.ColumnType, loc *time.Location) any {
	switch x := v.(type) {
	case time.Time:
		if typ == catalog.ColDate {
			return x.Format("2006-01-02")
		}
		return x.In(loc).Format(time.RFC3339)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	}
	return v
}

// Text is the CSV text of a cell.
func Text(v any, typ catalog.ColumnType, loc *time.Location) string {
	switch x := Value(v, typ, loc).(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}

// object writes a row as a JSON object with keys in column order.
func object(w *bufio.Writer, fields Schema, vals []any, loc *time.Location) error {
	w.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			w.WriteByte(',')
		}
		k, _ := json.Marshal(f.Name)
		w.Write(k)
		w.WriteByte(':')
		b, err := json.Marshal(Value(vals[i], f.Type, loc))
		if err != nil {
			return err
		}
		w.Write(b)
	}
	return w.WriteByte('}')
}

type jsonWriter struct {
	w      *bufio.Writer
	fields Schema
	loc    *time.Location
	n      int
}

func (j *jsonWriter) Begin(m Meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	j.w.Write(b[:len(b)-1]) // leave the object open
	_, err = j.w.WriteString(`,"records":[`)
	return err
}

func (j *jsonWriter) Row(vals []any) error {
	if j.n > 0 {
		j.w.WriteByte(',')
	}
	j.n++
	return object(j.w, j.fields, vals, j.loc)
}

func (j *jsonWriter) End(next string) error {
	fmt.Fprintf(j.w, `],"returned":%d`, j.n)
	if next != "" {
		b, _ := json.Marshal(next)
		j.w.WriteString(`,"next_cursor":`)
		j.w.Write(b)
	} else {
		j.w.WriteString(`,"next_cursor":null`)
	}
	j.w.WriteString("}\n")
	return j.w.Flush()
}

type ndjsonWriter struct {
	w      *bufio.Writer
	fields Schema
	loc    *time.Location
}

func (j *ndjsonWriter) Begin(Meta) error { return nil }
func (j *ndjsonWriter) Row(vals []any) error {
	if err := object(j.w, j.fields, vals, j.loc); err != nil {
		return err
	}
	return j.w.WriteByte('\n')
}
func (j *ndjsonWriter) End(string) error { return j.w.Flush() }

type csvWriter struct {
	w      *csv.Writer
	bw     *bufio.Writer
	fields Schema
	loc    *time.Location
	rec    []string
	safe   bool
}

func (c *csvWriter) Begin(Meta) error {
	c.rec = make([]string, len(c.fields))
	for i, f := range c.fields {
		c.rec[i] = f.Name
	}
	if c.safe {
		csvsafe.Record(c.rec)
	}
	return c.w.Write(c.rec)
}

func (c *csvWriter) Row(vals []any) error {
	for i, f := range c.fields {
		c.rec[i] = Text(vals[i], f.Type, c.loc)
	}
	if c.safe {
		csvsafe.Record(c.rec)
	}
	return c.w.Write(c.rec)
}

func (c *csvWriter) End(string) error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	return c.bw.Flush()
}

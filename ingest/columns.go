package ingest

import (
	"strings"
	"time"

	"opendata/catalog"
)

func (c *converter) resolveColumns(sr *scanResult) {
	items := map[string]catalog.Item{}
	for _, it := range c.opt.Items {
		items[it.Name] = it
	}
	present := map[string]bool{}
	for i, name := range sr.header {
		// Drop trailing unnamed columns that hold nothing.
		if strings.HasPrefix(name, "column_") && sr.inf[i].nonEmpty == 0 {
			continue
		}
		present[name] = true
		col := Column{Name: name, src: i, Open: catalog.TreatKept, lowCardinality: sr.inf[i].lowCardinality()}
		if it, ok := items[name]; ok {
			col.Declared, col.Type, col.Description = true, it.Type, it.Description
			col.Personal, col.Check, col.Required, col.notFut = it.Personal, it.Check, it.Required, it.NotFuture
			if len(it.Enum) > 0 {
				col.enum = map[string]bool{}
				for _, e := range it.Enum {
					col.enum[e] = true
				}
			}
			if it.Personal {
				col.Open = catalog.TreatMasked
				if it.PersonalAction == "drop" {
					col.Open = catalog.TreatDropped
				}
				col.maskKind = it.Check
			}
		} else {
			col.Type = sr.inf[i].decide()
			if len(c.opt.Items) > 0 {
				c.rep.Warnings = append(c.rep.Warnings, RowError{Column: name, Code: "undeclared_column"})
			}
		}
		notPersonal := false
		if it, ok := items[name]; ok {
			notPersonal = it.NotPersonal
			c.constrain(&col, &it)
		} else {
			c.constrain(&col, nil)
		}
		c.detectPersonal(&col, sr.inf[i].detected(), notPersonal)
		c.cols = append(c.cols, col)
	}
	for _, it := range c.opt.Items {
		if !present[it.Name] {
			c.rep.Warnings = append(c.rep.Warnings, RowError{Column: it.Name, Code: "missing_declared_column"})
		}
	}
	for _, t := range sr.titleRows {
		c.rep.Warnings = append(c.rep.Warnings, RowError{Row: t, Code: "title_row_skipped"})
	}
	c.rep.Warnings = append(c.rep.Warnings, sr.warnings...)
	if !c.onePass {
		c.drop = c.decideScanTotals(sr)
	}
	for _, k := range c.opt.KeyColumns {
		for i, col := range c.cols {
			if col.Name == k {
				c.keyIdx = append(c.keyIdx, i)
			}
		}
	}
	if len(c.keyIdx) > 0 {
		c.rep.KeyConflicts.Columns = c.opt.KeyColumns
	}
	c.dd = sr.dedup
	c.width = len(sr.header)
	c.sourceBytes = sr.sourceBytes
	now := c.opt.Now.In(c.opt.Location)
	c.today = int32(time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400)
	c.nowMicro = c.opt.Now.UnixMicro()
}

// detectPersonal settles what a column holds from its values (vk, from the
// first rows or every row) and its header: the values win when they show a
// kind, else the header names one. Personal data is masked in the open
// variant unless the column is declared personal already or declared not
// personal; a column masked that way gets a warning that says why.
func (c *converter) detectPersonal(col *Column, vk string, notPersonal bool) {
	col.valueKind = vk
	kind, by := vk, ByValues
	if hk := HeaderKind(col.Name); PersonalKind(hk) && !PersonalKind(vk) {
		kind, by = hk, ByHeader
	}
	if kind == "" {
		by = ""
	}
	col.Detected, col.DetectedBy = kind, by
	switch vk {
	case KindIDNumber, KindMobile, KindCreditCode:
		if col.Check == "" && col.Type == catalog.ColString {
			col.Check = vk
		}
	}
	if PersonalKind(kind) && col.Open == catalog.TreatKept && !notPersonal {
		col.Personal, col.Open, col.maskKind = true, catalog.TreatMasked, kind
		c.rep.Warnings = append(c.rep.Warnings, RowError{Column: col.Name, Code: "personal_detected_" + by, Params: map[string]string{"kind": kind}})
	}
	if col.maskKind == "" {
		col.maskKind = kind
	}
}

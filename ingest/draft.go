package ingest

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/zeebo/xxh3"

	"opendata/catalog"
	"opendata/errs"
	"opendata/i18n"
)

// A draft proposes a catalog entry's data items from a sample file, for
// the staff to confirm: the same readers, header choice, type inference
// and personal-data detection as an ingest, over the first DraftRows rows,
// plus what only a declaration can carry (checks, enumerations, the key).

// DraftRows is how many data rows a draft reads.
const DraftRows = sampleRows

// DraftMaxBytes is the largest sample file a draft accepts: a sample, not
// the data (the upload of the data takes max_upload_mb).
const DraftMaxBytes = 32 << 20

// Proposal thresholds.
const (
	draftEnumMax      = 20  // most distinct values an enumeration proposes
	draftEnumMinRows  = 10  // fewer filled cells say nothing about repetition
	draftEnumValueLen = 64  // longer values are text, not choices
	draftKeyValueLen  = 256 // longer values are no identifiers
	draftExamples     = 3
	draftRepeatsShown = 20 // repeated key values listed
	draftRepeatRows   = 10 // rows listed per repeated value
)

// Draft is the proposal.
type Draft struct {
	File       string       `json:"file"`
	Format     string       `json:"format"`
	Encoding   string       `json:"encoding,omitempty"`
	Sheet      *SheetChoice `json:"sheet,omitempty"`
	HeaderRow  int64        `json:"header_row"`
	Rows       int64        `json:"rows"`    // data rows the proposal is made from
	Partial    bool         `json:"partial"` // the file holds more rows than those
	Items      []DraftItem  `json:"items"`
	KeyColumns []string     `json:"key_columns"` // the candidate key; empty when no column qualifies
	Key        *DraftKey    `json:"key,omitempty"`
}

// DraftItem is one proposed data item and the evidence for it. The
// embedded item is what the entry declares; the rest explains it.
type DraftItem struct {
	catalog.Item
	Filled     int64    `json:"filled"`   // non-empty cells among the rows read
	Distinct   int64    `json:"distinct"` // distinct values among them
	Detected   string   `json:"detected,omitempty"`
	DetectedBy string   `json:"detected_by,omitempty"` // header or values
	Matching   int64    `json:"matching,omitempty"`    // values: cells that look like the detected kind
	Reasons    []string `json:"reasons"`               // why each proposal, in words (Localize)
	Examples   []string `json:"examples"`              // the first distinct values, masked when personal

	src       int
	why       []draftReason
	enumOK    bool
	enumVals  map[string]int
	enumOrder []string
	hashes    map[uint64]struct{}
	key       *keyTrack
}

// DraftKey is the candidate key: a (nearly) unique, (nearly) always filled
// column, with the values that repeat (possible "one data, one source"
// conflicts, or plain duplicates when the rows are the same).
type DraftKey struct {
	Column      string      `json:"column"`
	Filled      int64       `json:"filled"`
	Distinct    int64       `json:"distinct"`
	Repeats     []KeyRepeat `json:"repeats"`
	MoreRepeats int         `json:"more_repeats"` // repeated values not listed
	Reason      string      `json:"reason"`
}

// KeyRepeat is a key value found in more than one row.
type KeyRepeat struct {
	Value string  `json:"value"`
	Rows  []int64 `json:"rows"`
	Same  bool    `json:"same"` // every row with it is identical: a duplicate, not a conflict
}

type draftReason struct {
	key    string
	params map[string]string
}

type keySeen struct {
	row  int64
	hash uint64
}

type keyTrack struct {
	seen    map[string]keySeen
	repeats map[string]*KeyRepeat
	order   []string
	extra   int // repeated occurrences (rows beyond the first of a value)
	dead    bool
}

// DraftFile proposes the data items of the sample file at path (Name is
// its name in messages; Format, Encoding, Sheet and the limits as for an
// ingest; declared items and keys are ignored).
func DraftFile(ctx context.Context, path string, opt Options) (*Draft, error) {
	opt.defaults()
	opt.Items, opt.KeyColumns = nil, nil
	if opt.Name == "" {
		opt.Name = filepath.Base(path)
	}
	fail := func(err error) error { return &FileError{File: opt.Name, Err: err} }
	format := opt.Format
	if format == "" {
		format = DetectFormat(opt.Name)
	}
	if format == "" {
		return nil, fail(&Problem{Code: "draft_unknown_format", Kind: errs.Invalid})
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > DraftMaxBytes {
		return nil, fail(&Problem{Code: "draft_too_large", Kind: errs.TooLarge, Params: map[string]string{"mb": strconv.Itoa(DraftMaxBytes >> 20)}})
	}
	r, err := openReader(path, format, nil, opt)
	if err != nil {
		return nil, fail(draftReadError(err))
	}
	sr, err := scanHead(ctx, r, format, opt, st.Size())
	r.Close()
	if err != nil {
		return nil, fail(draftReadError(err))
	}
	c := newConverter(opt, format)
	c.resolveColumns(sr)
	d := &Draft{File: opt.Name, Format: format, Encoding: sr.encoding, Sheet: sr.sheet, HeaderRow: sr.headerRow, Partial: !sr.complete}
	for _, col := range c.cols {
		it := DraftItem{Item: catalog.Item{Name: col.Name, Type: col.Type, Personal: col.Personal, Check: col.Check},
			Detected: col.Detected, DetectedBy: col.DetectedBy, src: col.src, enumOK: col.Type == catalog.ColString && !PersonalKind(col.Detected) && col.Detected == "",
			hashes: map[uint64]struct{}{}}
		if col.DetectedBy == ByValues {
			it.Matching = sr.inf[col.src].matching(col.Detected)
		}
		if it.enumOK {
			it.enumVals = map[string]int{}
		}
		if draftKeyType(col) {
			it.key = &keyTrack{seen: map[string]keySeen{}, repeats: map[string]*KeyRepeat{}}
		}
		d.Items = append(d.Items, it)
	}
	var keyed []string
	if format == "json" || format == "ndjson" {
		keyed = sr.keys
	}
	r, err = openReader(path, format, keyed, opt)
	if err != nil {
		return nil, fail(draftReadError(err))
	}
	defer r.Close()
	if err := d.collect(ctx, r, sr, c.drop, opt.markers); err != nil {
		return nil, fail(draftReadError(err))
	}
	d.propose()
	return d, nil
}

// draftReadError keeps the ingest's own problems and says a plain sentence
// for the readers' fixed failures (ErrEmpty, ErrBadJSON…).
func draftReadError(err error) error {
	var p *Problem
	var re *RowError
	switch {
	case errors.As(err, &p), errors.As(err, &re), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, ErrEmpty):
		return &Problem{Code: "draft_empty", Kind: errs.Invalid}
	case errors.Is(err, ErrNoRows):
		return &Problem{Code: "draft_no_rows", Kind: errs.Invalid}
	case errors.Is(err, ErrBinary):
		return &Problem{Code: "draft_binary", Kind: errs.Invalid}
	case errors.Is(err, ErrMixedEncoding):
		return &Problem{Code: "draft_encoding", Kind: errs.Invalid}
	case errors.Is(err, ErrBadJSON):
		return &Problem{Code: "draft_bad_json", Kind: errs.Invalid}
	case errors.Is(err, ErrBadWorkbook), errors.Is(err, errNoSheets):
		return &Problem{Code: "draft_bad_workbook", Kind: errs.Invalid}
	case errors.Is(err, ErrUnknownFormat):
		return &Problem{Code: "draft_unknown_format", Kind: errs.Invalid}
	case errors.Is(err, errs.TooLarge):
		return &Problem{Code: "draft_limit", Kind: errs.TooLarge}
	case errors.Is(err, errs.Invalid):
		return &Problem{Code: "draft_unreadable", Kind: errs.Invalid}
	}
	return err
}

// draftKeyType: codes and numbers can identify a record (a number only
// when its header names an identifier, see propose); names, addresses,
// contact details, decimals, dates and flags do not.
func draftKeyType(col Column) bool {
	if col.Type != catalog.ColString && col.Type != catalog.ColInt {
		return false
	}
	switch col.Detected {
	case "", KindIDNumber, KindCreditCode:
		return true
	}
	return false
}

// matching is how many cells looked like kind.
func (in *inference) matching(kind string) int64 {
	switch kind {
	case KindIDNumber:
		return in.idLike
	case KindMobile:
		return in.mobile
	case KindCreditCode:
		return in.credit
	case KindBankCard:
		return in.bank
	case KindEmail:
		return in.email
	case KindPhone:
		return in.landline + in.mobile
	}
	return 0
}

// collect reads the data rows again (the scan keeps hashes only) for the
// values the proposals need: distinct values, enumerations, key repeats.
// drop are the rows the scan found to be totals (合计, 小计); a null marker
// (未填报) in a number or date column counts as an empty cell.
func (d *Draft) collect(ctx context.Context, r rowReader, sr *scanResult, drop []int64, nm *nullMarkers) error {
	dropped := map[int64]bool{}
	for _, row := range drop {
		dropped[row] = true
	}
	records := 0
	var trimmed []string
	var buf []byte
	for d.Rows < DraftRows {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		records++
		if err != nil {
			if _, ok := isRowError(err); ok {
				continue // the ingest reports it; a draft looks at the rows it can read
			}
			return err
		}
		if records <= sr.skip {
			continue
		}
		if records%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		trimmed = trimmed[:0]
		size := 0
		for _, v := range rec {
			v = trimCell(v)
			size += len(v)
			trimmed = append(trimmed, v)
		}
		if size == 0 || dropped[r.Row()] {
			continue
		}
		d.Rows++
		rowHash, _ := hashRow(trimmed, nil, &buf)
		for i := range d.Items {
			it := &d.Items[i]
			if it.src >= len(trimmed) || trimmed[it.src] == "" || nullMarkerTyped(it.Type) && nm.match(trimmed[it.src]) >= 0 {
				continue
			}
			it.add(trimmed[it.src], r.Row(), rowHash)
		}
	}
	if d.Rows == 0 {
		return ErrNoRows
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		d.Partial = true
	}
	return nil
}

func (it *DraftItem) add(v string, row int64, rowHash uint64) {
	it.Filled++
	h := xxh3.HashString(v)
	if _, seen := it.hashes[h]; !seen {
		it.hashes[h] = struct{}{}
		if len(it.Examples) < draftExamples {
			ex := v
			if it.Personal {
				ex = Mask(it.Detected, v)
			}
			it.Examples = append(it.Examples, short(ex, 40))
		}
	}
	if it.enumVals != nil {
		if len(v) > draftEnumValueLen {
			it.enumVals, it.enumOrder = nil, nil
		} else {
			if _, ok := it.enumVals[v]; !ok {
				it.enumOrder = append(it.enumOrder, v)
			}
			it.enumVals[v]++
			if len(it.enumVals) > draftEnumMax {
				it.enumVals, it.enumOrder = nil, nil
			}
		}
	}
	if k := it.key; k != nil && !k.dead {
		k.add(v, row, rowHash)
	}
}

// add notes a key value; the column stops being a candidate once more
// than a twentieth of the rows repeat a value (or a value is too long).
func (k *keyTrack) add(v string, row int64, rowHash uint64) {
	if len(v) > draftKeyValueLen {
		k.kill()
		return
	}
	first, ok := k.seen[v]
	if !ok {
		k.seen[v] = keySeen{row: row, hash: rowHash}
		return
	}
	k.extra++
	if k.extra*20 > DraftRows {
		k.kill()
		return
	}
	rep := k.repeats[v]
	if rep == nil {
		rep = &KeyRepeat{Value: v, Rows: []int64{first.row}, Same: true}
		k.repeats[v] = rep
		k.order = append(k.order, v)
	}
	if len(rep.Rows) < draftRepeatRows {
		rep.Rows = append(rep.Rows, row)
	}
	rep.Same = rep.Same && rowHash == first.hash
}

func (k *keyTrack) kill() { k.dead, k.seen, k.repeats, k.order = true, nil, nil, nil }

// keyWords are words of headers that name an identifier.
var keyWords = []string{"代码", "编码", "编号", "号码", "证号", "标识", "序号", "id", "code", "no"}

func headerNamesKey(name string) bool {
	h := strings.ToLower(name)
	for _, w := range keyWords {
		if strings.HasSuffix(h, w) || (len(w) > 3 && strings.Contains(h, w)) {
			return true
		}
	}
	return false
}

// propose settles the checks, enumerations and key from what was read,
// and the reasons for every proposal.
func (d *Draft) propose() {
	best, bestScore := -1, -1
	for i := range d.Items {
		it := &d.Items[i]
		it.Distinct = int64(len(it.hashes))
		it.hashes = nil
		if it.Detected != "" {
			p := map[string]string{"column": it.Name, "kind": it.Detected,
				"n": strconv.FormatInt(it.Matching, 10), "filled": strconv.FormatInt(it.Filled, 10)}
			switch {
			case it.Personal && it.DetectedBy == ByHeader:
				it.why = append(it.why, draftReason{"ingest.draft_personal_header", p})
			case it.Personal:
				it.why = append(it.why, draftReason{"ingest.draft_personal_values", p})
			}
		}
		if it.Check != "" {
			it.why = append(it.why, draftReason{"ingest.draft_check", map[string]string{"check": it.Check,
				"n": strconv.FormatInt(it.Matching, 10), "filled": strconv.FormatInt(it.Filled, 10)}})
		}
		if it.enumVals != nil && it.Filled >= draftEnumMinRows && int64(len(it.enumVals))*3 <= it.Filled && len(it.enumVals) >= 2 {
			it.Enum = append([]string(nil), it.enumOrder...)
			it.why = append(it.why, draftReason{"ingest.draft_enum", map[string]string{
				"distinct": strconv.Itoa(len(it.Enum)), "filled": strconv.FormatInt(it.Filled, 10)}})
		}
		it.enumVals, it.enumOrder = nil, nil
		if k := it.key; k != nil && !k.dead && d.Rows >= 2 && it.Filled*50 >= d.Rows*49 && (int64(k.extra)*20 <= d.Rows || k.extra <= 1) &&
			(it.Type == catalog.ColString || headerNamesKey(it.Name)) {
			score := 0
			if it.Check == KindCreditCode || it.Check == KindIDNumber {
				score += 4
			}
			if headerNamesKey(it.Name) {
				score += 2
			}
			if k.extra == 0 {
				score++
			}
			if score > bestScore {
				best, bestScore = i, score
			}
		}
	}
	d.KeyColumns = []string{}
	if best >= 0 {
		it := &d.Items[best]
		k := it.key
		dk := &DraftKey{Column: it.Name, Filled: it.Filled, Distinct: it.Distinct, Repeats: []KeyRepeat{}}
		sort.SliceStable(k.order, func(a, b int) bool { return k.repeats[k.order[a]].Rows[0] < k.repeats[k.order[b]].Rows[0] })
		for n, v := range k.order {
			if n >= draftRepeatsShown {
				dk.MoreRepeats = len(k.order) - n
				break
			}
			rep := *k.repeats[v]
			if it.Personal {
				rep.Value = Mask(it.Detected, rep.Value)
			}
			dk.Repeats = append(dk.Repeats, rep)
		}
		d.Key, d.KeyColumns = dk, []string{it.Name}
		it.Required = true
		reason := "ingest.draft_key"
		if len(k.order) == 0 {
			reason = "ingest.draft_key_unique"
		}
		it.why = append(it.why, draftReason{reason, map[string]string{
			"distinct": strconv.FormatInt(it.Distinct, 10), "filled": strconv.FormatInt(it.Filled, 10), "repeats": strconv.Itoa(len(k.order))}})
	}
	for i := range d.Items {
		d.Items[i].key = nil
	}
	d.Localize(i18n.ZH)
}

// Localize writes the reasons in lang.
func (d *Draft) Localize(lang string) {
	for i := range d.Items {
		it := &d.Items[i]
		it.Reasons = []string{}
		for _, r := range it.why {
			p := map[string]string{}
			for k, v := range r.params {
				p[k] = v
			}
			if k, ok := p["kind"]; ok {
				p["kind"] = i18n.T(lang, "ingest.kind."+k, nil)
			}
			if c, ok := p["check"]; ok {
				p["check"] = i18n.T(lang, "item_check."+c, nil)
			}
			it.Reasons = append(it.Reasons, i18n.T(lang, r.key, p))
		}
		if it.Examples == nil {
			it.Examples = []string{}
		}
	}
	if d.Key != nil {
		for _, it := range d.Items {
			if it.Name == d.Key.Column && len(it.Reasons) > 0 {
				d.Key.Reason = it.Reasons[len(it.Reasons)-1]
			}
		}
	}
}

// ItemsOf are the proposed items as the entry declares them.
func (d *Draft) ItemsOf() []catalog.Item {
	out := make([]catalog.Item, len(d.Items))
	for i, it := range d.Items {
		out[i] = it.Item
	}
	return out
}

// DraftFile proposes data items with the service's limits.
func (s *Service) DraftFile(ctx context.Context, path, name, format, encoding, sheet string) (*Draft, error) {
	if format != "" && format != "csv" && format != "xlsx" && format != "json" && format != "ndjson" {
		return nil, &FileError{File: name, Err: &Problem{Code: "draft_unknown_format", Kind: errs.Invalid}}
	}
	return DraftFile(ctx, path, Options{Format: format, Encoding: encoding, Sheet: sheet, Name: name,
		MaxFieldBytes: s.Limits.MaxFieldBytes, MaxColumns: s.Limits.MaxColumns, MaxHeaderBytes: s.Limits.MaxHeaderBytes,
		MaxUnzipBytes: s.Limits.MaxUnzipBytes, TempDir: s.Limits.TempDir, Location: s.Limits.Location, NullMarkers: s.Limits.NullMarkers})
}

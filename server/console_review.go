package server

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"opendata/catalog"
	"opendata/i18n"
	"opendata/ingest"
	"opendata/publish"
)

// The version page: what an approver decides on — the quality report as a
// page, the first rows, the comparison with the published version — and
// the submit, approve and reject buttons beside them.

func (s *Server) bindConsoleReview(g *echo.Group) {
	g.GET("/resources/:id/versions/:n", s.consoleVersion)
	// The full variant holds personal data: shown after a POST (CSRF) that
	// is in the audit log, never by following a link.
	g.POST("/resources/:id/versions/:n/full", s.consoleVersionFull)
}

func (s *Server) consoleVersion(c echo.Context) error {
	return s.versionPage(c, publish.VariantOpen, http.StatusOK, "")
}

func (s *Server) consoleVersionFull(c echo.Context) error {
	return s.versionPage(c, publish.VariantFull, http.StatusOK, "")
}

// countLine is a number with what it counts, in words.
type countLine struct {
	Label string
	Count int64
}

// columnLine is one column of the report.
type columnLine struct {
	Name, Type, Open string
	Personal         bool
	Nulls, Invalid   int64
	Distinct         uint64
	Min, Max         string
	Flagged          []string // flagged cells with their row numbers, in words
	InvalidTruncated bool
	NullShare        float64
	HasRange         bool
	Markers          string // the nulls read from null markers, in words ("3 × 未填报、1 × —")
}

// reviewView is the version page's view model.
type reviewView struct {
	R            publish.Review
	StateLabel   string
	CanSubmit    bool
	CanReview    bool
	Columns      []columnLine
	Rejected     []string
	RejectedBy   []countLine
	MoreRejected int64
	Duplicates   []string
	Conflicts    []string
	ConflictCols string
	Warnings     []string
	Problems     []string
	Problem      string
	Preview      *publish.Preview
	Full         bool
	Cmp          *comparisonView
}

type comparisonView struct {
	publish.Comparison
	BaseLabel               string
	Schema                  []string // schema changes, in words
	Ranges                  []rangeLine
	Keys                    string // the record key's columns
	Added, Removed, Changed []string
	RowsDelta               int64
}

type rangeLine struct {
	publish.RangeChange
	TypeLabel string
	Warnings  []string
}

// maxListed bounds the lists the page shows; the report holds more.
const maxListed = 100

// versionPage renders the page; problem, when set, is why the last
// decision was refused.
func (s *Server) versionPage(c echo.Context, variant string, status int, problem string) error {
	u, id, err := withID(c, staff)
	if err != nil {
		return err
	}
	n, err := pathID(c, "n")
	if err != nil {
		return err
	}
	l := lang(c)
	rv, err := s.review.Load(c.Request().Context(), u.Actor(), id, int(n), variant)
	if err != nil {
		return err
	}
	a := u.Actor()
	v := &reviewView{R: rv, Problem: problem, StateLabel: i18n.T(l, "pub."+rv.State, nil), Preview: rv.Preview,
		Full: rv.Preview != nil && rv.Preview.Variant == publish.VariantFull}
	v.CanSubmit = a.CanEditDepartment(rv.Resource.DepartmentID) && rv.Resource.RetiredAt == nil && rv.Resource.OpenType != catalog.OpenNone &&
		(rv.State == publish.Draft || rv.State == publish.Rejected)
	v.CanReview = s.app.Publish.CanApprove(a, rv.Resource) && rv.State == publish.Submitted
	for _, p := range rv.Problems {
		v.Problems = append(v.Problems, i18n.T(l, p, nil))
	}
	if q := rv.Report; q != nil {
		reportView(l, v, q, rv.Version)
	}
	if cmp := rv.Comparison; cmp != nil {
		v.Cmp = comparisonWords(l, *cmp, rv.Resource, rv.Version)
	}
	title := i18n.T(l, "review.title", map[string]string{"name": rv.Resource.Name, "n": strconv.Itoa(int(n))})
	return s.render(c, status, "version", s.newPage(c, title, v))
}

// reportView says the quality report in the reader's language.
func reportView(l string, v *reviewView, q *ingest.Report, ver catalog.Version) {
	open := map[string]catalog.VersionColumn{}
	for _, col := range ver.Columns {
		open[col.Name] = col
	}
	for _, cq := range q.Columns {
		vc := open[cq.Name]
		line := columnLine{Name: cq.Name, Type: cq.Type.Label(l), Nulls: cq.Nulls, Invalid: cq.Invalid, Distinct: cq.DistinctEstimate,
			Min: cq.Min, Max: cq.Max, Personal: vc.Personal, HasRange: cq.Min != "" || cq.Max != ""}
		if vc.Open != "" {
			line.Open = vc.Open.Label(l)
		}
		if q.RowsStored > 0 {
			line.NullShare = 100 * float64(cq.Nulls) / float64(q.RowsStored)
		}
		for _, e := range cq.InvalidSamples {
			line.Flagged = append(line.Flagged, ingest.Describe(l, e))
		}
		line.InvalidTruncated = cq.Invalid > int64(len(cq.InvalidSamples))
		line.Markers = markerWords(l, cq.NullMarkers)
		v.Columns = append(v.Columns, line)
	}
	for i, e := range q.Rejected {
		if i == maxListed {
			break
		}
		v.Rejected = append(v.Rejected, ingest.Describe(l, e))
	}
	v.MoreRejected = q.RowsRejected - int64(len(v.Rejected))
	codes := make([]string, 0, len(q.RejectedByCode))
	for code := range q.RejectedByCode {
		codes = append(codes, code)
	}
	sort.Slice(codes, func(i, j int) bool { return q.RejectedByCode[codes[i]] > q.RejectedByCode[codes[j]] })
	for _, code := range codes {
		key := "review.reject." + code
		if !i18n.Has(key) {
			key = "review.reject.other"
		}
		v.RejectedBy = append(v.RejectedBy, countLine{Label: i18n.T(l, key, nil), Count: q.RejectedByCode[code]})
	}
	for i, row := range q.Duplicates.Rows {
		if i == maxListed {
			break
		}
		v.Duplicates = append(v.Duplicates, strconv.FormatInt(row, 10))
	}
	v.ConflictCols = strings.Join(q.KeyConflicts.Columns, i18n.T(l, "history.list_sep", nil))
	for _, k := range q.KeyConflicts.Samples {
		v.Conflicts = append(v.Conflicts, i18n.T(l, "review.conflict_line", map[string]string{"key": k.Key,
			"row": strconv.FormatInt(k.Row, 10), "first": strconv.FormatInt(k.FirstRow, 10)}))
	}
	for _, w := range q.Warnings {
		v.Warnings = append(v.Warnings, ingest.Describe(l, w))
	}
}

// markerWords says how many nulls each null marker gave ("3 × 未填报").
func markerWords(l string, list []ingest.MarkerCount) string {
	parts := make([]string, len(list))
	for i, m := range list {
		parts[i] = i18n.T(l, "review.null_marker", map[string]string{"n": strconv.FormatInt(m.Count, 10), "value": m.Value})
	}
	return strings.Join(parts, i18n.T(l, "history.list_sep", nil))
}

// comparisonWords says the comparison in the reader's language.
func comparisonWords(l string, c publish.Comparison, r catalog.Resource, draft catalog.Version) *comparisonView {
	out := &comparisonView{Comparison: c, RowsDelta: c.RowsAfter - c.RowsBefore}
	key := "review.base_previous"
	if c.BasePublished {
		key = "review.base_published"
	}
	out.BaseLabel = i18n.T(l, key, map[string]string{"n": strconv.Itoa(c.Base)})
	p := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, col := range c.Added {
		out.Schema = append(out.Schema, i18n.T(l, "review.col_added", p("name", col.Name, "type", col.Type.Label(l))))
	}
	for _, col := range c.Removed {
		out.Schema = append(out.Schema, i18n.T(l, "review.col_removed", p("name", col.Name)))
	}
	for _, ch := range c.Changed {
		if ch.FromType != ch.ToType {
			out.Schema = append(out.Schema, i18n.T(l, "review.col_type", p("name", ch.Name, "from", ch.FromType.Label(l), "to", ch.ToType.Label(l))))
		}
		if ch.FromOpen != ch.ToOpen {
			out.Schema = append(out.Schema, i18n.T(l, "review.col_open", p("name", ch.Name, "from", openWord(l, ch.FromOpen), "to", openWord(l, ch.ToOpen))))
		}
		if ch.FromPersonal != ch.ToPersonal {
			k := "review.col_personal_off"
			if ch.ToPersonal {
				k = "review.col_personal_on"
			}
			out.Schema = append(out.Schema, i18n.T(l, k, p("name", ch.Name)))
		}
	}
	if c.Reordered {
		out.Schema = append(out.Schema, i18n.T(l, "review.col_order", nil))
	}
	for _, rc := range c.Ranges {
		line := rangeLine{RangeChange: rc, TypeLabel: rc.Type.Label(l)}
		for _, w := range rc.Warnings {
			line.Warnings = append(line.Warnings, i18n.T(l, w, nil))
		}
		out.Ranges = append(out.Ranges, line)
	}
	if c.Rows != nil {
		out.Keys = strings.Join(c.Rows.Keys, i18n.T(l, "history.list_sep", nil))
		if c.ShowKeys {
			join := func(keys [][]string) []string {
				var s []string
				for _, k := range keys {
					s = append(s, strings.Join(k, " / "))
				}
				return s
			}
			out.Added, out.Removed, out.Changed = join(c.Rows.AddedKeys), join(c.Rows.RemovedKeys), join(c.Rows.ChangedKeys)
		}
	}
	if c.RowsProblem != "" {
		out.RowsProblem = i18n.T(l, c.RowsProblem, nil)
	}
	return out
}

func openWord(l string, open catalog.Treatment) string {
	if open == "" {
		return i18n.T(l, "history.none", nil)
	}
	return open.Label(l)
}

// versionPath is the version page of a resource.
func versionPath(rid int64, n int) string {
	return fmt.Sprintf("/console/resources/%d/versions/%d", rid, n)
}

// afterVersionAction returns to the version page after a decision taken
// there: with what was done, or with why it was refused in the reader's
// language (the page shown again, the data still in view).
func (s *Server) afterVersionAction(c echo.Context, rid int64, n int, action string, err error) error {
	if err == nil {
		return c.Redirect(http.StatusSeeOther, versionPath(rid, n)+"?done="+action)
	}
	msg, status, ok := refusal(lang(c), err)
	if !ok {
		return err
	}
	return s.versionPage(c, publish.VariantOpen, status, msg)
}

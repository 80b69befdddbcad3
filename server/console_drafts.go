package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"opendata/auth"
	"opendata/catalog"
	"opendata/errs"
	"opendata/i18n"
	"opendata/ingest"
)

// The entry form's "propose from a sample": the form posts itself with a
// sample file (multipart); the proposal replaces the data items and the
// key in the form shown again, nothing saved until "save".

func (s *Server) bindConsoleDrafts(g *echo.Group) {
	g.POST("/resources/new/draft", s.consoleDraftNew)
	g.POST("/resources/:id/draft", s.consoleDraftEdit)
}

// draftView is what the form says about a proposal.
type draftView struct {
	Done    string
	Sheet   string
	Items   []draftItemView
	Key     string // the proposed key's sentence, "" for none
	Repeats []draftRepeatView
	More    string
}

type draftItemView struct {
	N        int
	Name     string
	Reasons  []string
	Examples string
}

type draftRepeatView struct {
	Value, Rows string
	Same        bool
}

func newDraftView(l string, d *ingest.Draft) *draftView {
	p := map[string]string{"file": d.File, "rows": strconv.FormatInt(d.Rows, 10), "n": strconv.Itoa(len(d.Items))}
	v := &draftView{Done: i18n.T(l, "draft.done", p)}
	if d.Partial {
		v.Done = i18n.T(l, "draft.done_partial", p)
	}
	if d.Sheet != nil {
		v.Sheet = i18n.T(l, "draft.sheet", map[string]string{"sheet": d.Sheet.Used})
	}
	for i, it := range d.Items {
		reasons := it.Reasons
		if len(reasons) == 0 {
			reasons = []string{i18n.T(l, "draft.no_reasons", nil)}
		}
		v.Items = append(v.Items, draftItemView{N: i + 1, Name: it.Name, Reasons: reasons, Examples: strings.Join(it.Examples, "、")})
	}
	if d.Key != nil {
		v.Key = i18n.T(l, "draft.key", map[string]string{"column": d.Key.Column}) + "：" + d.Key.Reason
		for _, r := range d.Key.Repeats {
			rows := make([]string, len(r.Rows))
			for i, n := range r.Rows {
				rows[i] = strconv.FormatInt(n, 10)
			}
			v.Repeats = append(v.Repeats, draftRepeatView{Value: r.Value, Rows: i18n.T(l, "draft.repeat_rows", map[string]string{"rows": strings.Join(rows, "、")}), Same: r.Same})
		}
		if d.Key.MoreRepeats > 0 {
			v.More = i18n.T(l, "draft.more_repeats", map[string]string{"n": strconv.Itoa(d.Key.MoreRepeats)})
		}
	}
	return v
}

// applyDraft reads the posted entry form and its sample, and fills the
// entry's items and key from the proposal; a refused sample is a field
// error on the sample box.
func (s *Server) applyDraft(c echo.Context) (e catalog.Entry, f *sampleForm, fe errs.FieldErrors, view *draftView, err error) {
	l := lang(c)
	f, err = s.readSampleForm(c, "sample")
	if err != nil {
		return e, nil, nil, nil, err
	}
	defer f.remove()
	e, perr := parseEntryForm(f.Fields)
	if perr != nil {
		return e, f, nil, nil, perr
	}
	if f.Path == "" {
		return e, f, errs.FieldErrors{"sample": "draft.missing_file"}, nil, nil
	}
	// The form's "format" is the entry's (table, …): the sample's is told by its name.
	d, derr := s.draftFrom(c, f, l, "", "", "")
	if derr != nil {
		var pub *errs.Public
		if !errors.As(derr, &pub) {
			return e, f, nil, nil, derr
		}
		return e, f, errs.FieldErrors{"sample": i18n.T(l, pub.Key, pub.Params)}, nil, nil
	}
	e.Items, e.KeyColumns = d.ItemsOf(), d.KeyColumns
	return e, f, nil, newDraftView(l, d), nil
}

func (s *Server) consoleDraftNew(c echo.Context) error {
	u, _ := currentUser(c)
	if err := mayCreate(u); err != nil {
		return err
	}
	e, _, fe, view, err := s.applyDraft(c)
	if err != nil {
		return err
	}
	if !u.Actor().IsBureau() {
		e.DepartmentID = u.DepartmentID
	}
	return s.renderDraftForm(c, u, e, fe, view, true, 0, 0, i18n.T(lang(c), "entry.new_title", nil))
}

func (s *Server) consoleDraftEdit(c echo.Context) error {
	u, r, err := s.editable(c)
	if err != nil {
		return err
	}
	if r.RetiredAt != nil {
		return catalog.ErrRetired
	}
	e, f, fe, view, err := s.applyDraft(c)
	if err != nil {
		return err
	}
	if !u.Actor().IsBureau() {
		e.DepartmentID = r.DepartmentID
	}
	rev, _ := strconv.Atoi(f.Fields.Get("revision"))
	return s.renderDraftForm(c, u, e, fe, view, false, r.ID, rev, i18n.T(lang(c), "entry.edit_title", map[string]string{"name": r.Name}))
}

func (s *Server) renderDraftForm(c echo.Context, u auth.User, e catalog.Entry, fe errs.FieldErrors, view *draftView, isNew bool, id int64, rev int, title string) error {
	form, err := s.entryFormView(c, u, e, fe)
	if err != nil {
		return err
	}
	form.New, form.ResourceID, form.Revision, form.Draft = isNew, id, rev, view
	status := http.StatusOK
	if len(fe) > 0 {
		status = http.StatusUnprocessableEntity
	}
	return s.renderEntryForm(c, status, form, title)
}

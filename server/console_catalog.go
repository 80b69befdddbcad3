package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"opendata/auth"
	"opendata/catalog"
	"opendata/errs"
	"opendata/frontend"
	"opendata/i18n"
	"opendata/publish"
)

// The catalog on the web: create, edit, retire and restore entries with
// every field of design §4. The form works without JavaScript: adding,
// removing and moving data items are buttons that post the form back and
// show it again changed, nothing saved until "save".

func (s *Server) bindConsoleCatalog(g *echo.Group) {
	g.GET("/resources/new", s.consoleEntryNew)
	g.POST("/resources/new", s.consoleEntryCreate)
	g.GET("/resources/:id/edit", s.consoleEntryEdit)
	g.POST("/resources/:id/edit", s.consoleEntrySave)
	g.POST("/resources/:id/retire", s.consoleEntryRetire)
	g.POST("/resources/:id/restore", s.consoleEntryRestore)
	g.GET("/retired", s.consoleRetired)
	s.bindConsoleDrafts(g)
}

// option is one choice of a select or a checkbox group.
type option struct {
	Value, Label string
	Selected     bool
}

// itemRow is one data item in the form's table.
type itemRow struct {
	Index                  int
	Item                   catalog.Item
	Key                    bool   // part of the record key
	Enum                   string // the allowed values as typed
	Errors                 map[string]string
	Types, Checks, Actions []option
}

// conflictView tells the editor that someone else saved meanwhile.
type conflictView struct {
	Lines []string          // what they changed, in words
	Now   map[string]string // field → the value saved now, in words
}

// entryForm is the view model of the entry form.
type entryForm struct {
	New         bool
	ResourceID  int64
	Revision    int
	Entry       catalog.Entry
	Items       []itemRow
	Keywords    string
	Related     string
	Errors      map[string]string // field → message in the reader's language
	Summary     []fieldError      // the same, in form order, for the list at the top
	Departments []option
	DeptName    string // when the editor may not choose
	ChooseDept  bool
	Choices     map[string][]option
	Methods     []option
	Conflict    *conflictView
	Draft       *draftView // the items were just proposed from a sample file
	// DefaultLicence is the configured licence an entry without its own is under.
	DefaultLicence string
}

type fieldError struct{ ID, Label, Message string }

// formFields are the entry's fields in the order of the form (for the
// error list at the top, linked to each field).
var formFields = []string{"code", "name", "name_en", "department_id", "summary", "catalog_kind", "domain", "category", "level", "format",
	"collection_channel", "update_period", "share_type", "share_condition", "share_basis", "share_methods", "open_type", "open_condition",
	"open_basis", "responsible_person", "responsible_contact", "usage_note", "licence", "licence_url", "release_date", "keywords", "related", "items", "key_columns"}

// splitList reads a list typed in one box: values separated by commas
// (half- or full-width), 、, semicolons or new lines.
func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == '，' || r == '、' || r == ';' || r == '；' || r == '\n' || r == '\r'
	})
	var out []string
	for _, v := range f {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parseEntryForm reads the posted form into an entry; keyed rows are the
// items whose "key" box is ticked.
func parseEntryForm(form url.Values) (catalog.Entry, error) {
	get := func(k string) string { return strings.TrimSpace(form.Get(k)) }
	e := catalog.Entry{
		Code: get("code"), Name: get("name"), NameEn: get("name_en"), Summary: get("summary"), CatalogKind: get("catalog_kind"),
		Domain: get("domain"), Category: get("category"), Level: get("level"), Format: get("format"),
		CollectionChannel: get("collection_channel"), UpdatePeriod: get("update_period"), ShareType: catalog.ShareType(get("share_type")),
		ShareCondition: get("share_condition"), ShareBasis: get("share_basis"), ShareMethods: form["share_methods"],
		OpenType: catalog.OpenType(get("open_type")), OpenCondition: get("open_condition"), OpenBasis: get("open_basis"),
		ResponsiblePerson: get("responsible_person"), ResponsibleContact: get("responsible_contact"), UsageNote: get("usage_note"),
		Licence: get("licence"), LicenceURL: get("licence_url"),
		ReleaseDate: get("release_date"), Keywords: splitList(form.Get("keywords")), Related: splitList(form.Get("related")),
	}
	e.DepartmentID, _ = strconv.ParseInt(get("department_id"), 10, 64)
	n, _ := strconv.Atoi(get("items_count"))
	if n < 0 || n > catalog.MaxItems {
		return e, errs.FieldErrors{"items": catalog.MsgTooMany}
	}
	for i := 0; i < n; i++ {
		p := "items." + strconv.Itoa(i) + "."
		it := catalog.Item{Name: get(p + "name"), Type: catalog.ColumnType(get(p + "type")), Description: get(p + "description"),
			Personal: form.Get(p+"personal") != "", PersonalAction: get(p + "personal_action"), Required: form.Get(p+"required") != "",
			Enum: splitList(form.Get(p + "enum")), NotFuture: form.Get(p+"not_future") != "", Check: get(p + "check"), Unit: get(p + "unit"),
			Min: get(p + "min"), Max: get(p + "max"), Pattern: get(p + "pattern")}
		if !it.Personal {
			it.PersonalAction = ""
		}
		e.Items = append(e.Items, it)
		if form.Get(p+"key") != "" && it.Name != "" {
			e.KeyColumns = append(e.KeyColumns, it.Name)
		}
	}
	return e, nil
}

// applyRowOp carries out an "add row", "remove row i" or "move row i" button.
// It returns false for "save".
func applyRowOp(e *catalog.Entry, op string) bool {
	verb, arg, _ := strings.Cut(op, ".")
	i, err := strconv.Atoi(arg)
	inRange := err == nil && i >= 0 && i < len(e.Items)
	switch {
	case verb == "add" && len(e.Items) < catalog.MaxItems:
		e.Items = append(e.Items, catalog.Item{Type: "string"})
	case verb == "remove" && inRange:
		e.Items = append(e.Items[:i:i], e.Items[i+1:]...)
	case verb == "up" && inRange && i > 0:
		e.Items[i-1], e.Items[i] = e.Items[i], e.Items[i-1]
	case verb == "down" && inRange && i+1 < len(e.Items):
		e.Items[i+1], e.Items[i] = e.Items[i], e.Items[i+1]
	case verb == "save" || verb == "":
		return false
	}
	return true
}

func choices[T ~string](l, group string, values []T, selected T) []option {
	out := make([]option, 0, len(values))
	for _, v := range values {
		label := i18n.T(l, group+"."+string(v), nil)
		if v == "" {
			label = i18n.T(l, "entry.form.none", nil)
		}
		out = append(out, option{Value: string(v), Label: label, Selected: v == selected})
	}
	return out
}

// entryFormView builds the form for e; fe are the validation failures.
func (s *Server) entryFormView(c echo.Context, u auth.User, e catalog.Entry, fe errs.FieldErrors) (*entryForm, error) {
	l := lang(c)
	f := &entryForm{Entry: e, DefaultLicence: s.app.Config.Licence, Errors: map[string]string{}, Keywords: strings.Join(e.Keywords, "、"), Related: strings.Join(e.Related, "、")}
	for k, v := range fe {
		f.Errors[k] = i18n.Text(l, v)
	}
	for _, k := range formFields {
		if m, ok := f.Errors[k]; ok {
			f.Summary = append(f.Summary, fieldError{ID: "f-" + k, Label: catalog.FieldLabel(l, k), Message: m})
		}
	}
	key := map[string]bool{}
	for _, k := range e.KeyColumns {
		key[k] = true
	}
	for i, it := range e.Items {
		row := itemRow{Index: i, Item: it, Key: key[it.Name], Enum: strings.Join(it.Enum, "、"), Errors: map[string]string{},
			Types: choices(l, "type", catalog.ColumnTypes, it.Type), Checks: choices(l, "item_check", catalog.ItemChecks, it.Check),
			Actions: choices(l, "personal_action", catalog.PersonalAction, it.PersonalAction)}
		prefix := "items[" + strconv.Itoa(i) + "]."
		for k, m := range f.Errors {
			if attr, ok := strings.CutPrefix(k, prefix); ok {
				row.Errors[attr] = m
				f.Summary = append(f.Summary, fieldError{ID: fmt.Sprintf("i%d-%s", i, attr),
					Label: i18n.T(l, "entry.form.item_n", map[string]string{"n": strconv.Itoa(i + 1)}) + " · " + catalog.FieldLabel(l, "items."+attr), Message: m})
			}
		}
		f.Items = append(f.Items, row)
	}
	f.Choices = map[string][]option{
		"catalog_kind": choices(l, "catalog_kind", catalog.CatalogKinds, e.CatalogKind), "domain": choices(l, "domain", catalog.Domains, e.Domain),
		"format": choices(l, "format", catalog.Formats, e.Format), "collection_channel": choices(l, "collection_channel", catalog.Channels, e.CollectionChannel),
		"update_period": choices(l, "update_period", catalog.UpdatePeriods, e.UpdatePeriod), "share_type": choices(l, "share_type", catalog.ShareTypes, e.ShareType),
		"open_type": choices(l, "open_type", catalog.OpenTypes, e.OpenType),
	}
	for _, m := range catalog.ShareMethods {
		sel := false
		for _, x := range e.ShareMethods {
			sel = sel || x == m
		}
		f.Methods = append(f.Methods, option{Value: m, Label: i18n.T(l, "share_method."+m, nil), Selected: sel})
	}
	ds, err := s.app.Catalog.ListDepartments(c.Request().Context())
	if err != nil {
		return nil, err
	}
	a := u.Actor()
	f.ChooseDept = a.IsBureau()
	for _, d := range ds {
		if d.ID == e.DepartmentID {
			f.DeptName = d.NameIn(l)
		}
		if a.CanEditDepartment(d.ID) {
			f.Departments = append(f.Departments, option{Value: strconv.FormatInt(d.ID, 10), Label: d.NameIn(l), Selected: d.ID == e.DepartmentID})
		}
	}
	return f, nil
}

// blankEntry is a new entry with the choices most entries make.
func blankEntry(u auth.User) catalog.Entry {
	return catalog.Entry{DepartmentID: u.DepartmentID, CatalogKind: "department", Format: "table", CollectionChannel: "business_system",
		UpdatePeriod: "monthly", ShareType: catalog.ShareUnconditional, ShareMethods: []string{"api", "file"}, OpenType: catalog.OpenUnconditional,
		Items: []catalog.Item{{Type: "string"}}}
}

// mayCreate: department staff for their department, and the bureau.
func mayCreate(u auth.User) error {
	if u.Actor().IsBureau() || u.Actor().CanEditDepartment(u.DepartmentID) && u.DepartmentID != 0 {
		return nil
	}
	return errs.Forbiddenf("err.catalog.staff_only")
}

func (s *Server) renderEntryForm(c echo.Context, status int, f *entryForm, title string) error {
	return s.render(c, status, "entry_form", s.newPage(c, title, f))
}

func (s *Server) consoleEntryNew(c echo.Context) error {
	u, _ := currentUser(c)
	if err := mayCreate(u); err != nil {
		return err
	}
	f, err := s.entryFormView(c, u, blankEntry(u), nil)
	if err != nil {
		return err
	}
	f.New = true
	return s.renderEntryForm(c, http.StatusOK, f, i18n.T(lang(c), "entry.new_title", nil))
}

func (s *Server) consoleEntryCreate(c echo.Context) error {
	u, _ := currentUser(c)
	if err := mayCreate(u); err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return errs.Invalidf("err.form_unreadable")
	}
	title := i18n.T(lang(c), "entry.new_title", nil)
	e, perr := parseEntryForm(form)
	if !u.Actor().IsBureau() {
		e.DepartmentID = u.DepartmentID // staff keep their own department's catalog
	}
	var fe errs.FieldErrors
	if perr == nil && !applyRowOp(&e, form.Get("op")) {
		r, err := s.app.Catalog.CreateResource(c.Request().Context(), u.Actor(), e)
		if err == nil {
			return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/resources/%d?done=created", r.ID))
		}
		if !errors.As(err, &fe) {
			return err
		}
	} else if perr != nil && !errors.As(perr, &fe) {
		return perr
	}
	f, err := s.entryFormView(c, u, e, fe)
	if err != nil {
		return err
	}
	f.New = true
	status := http.StatusOK
	if len(fe) > 0 {
		status = http.StatusUnprocessableEntity
	}
	return s.renderEntryForm(c, status, f, title)
}

// editable loads an entry the user may edit.
func (s *Server) editable(c echo.Context) (auth.User, catalog.Resource, error) {
	u, id, err := withID(c, staff)
	if err != nil {
		return u, catalog.Resource{}, err
	}
	r, err := s.app.Catalog.GetResource(c.Request().Context(), id)
	if err != nil {
		return u, r, err
	}
	if !u.Actor().CanEditDepartment(r.DepartmentID) {
		return u, r, errs.Forbiddenf("err.catalog.own_dept_edit")
	}
	return u, r, nil
}

func (s *Server) consoleEntryEdit(c echo.Context) error {
	u, r, err := s.editable(c)
	if err != nil {
		return err
	}
	if r.RetiredAt != nil {
		return catalog.ErrRetired
	}
	f, err := s.entryFormView(c, u, r.Entry, nil)
	if err != nil {
		return err
	}
	f.ResourceID, f.Revision = r.ID, r.Revision
	return s.renderEntryForm(c, http.StatusOK, f, i18n.T(lang(c), "entry.edit_title", map[string]string{"name": r.Name}))
}

func (s *Server) consoleEntrySave(c echo.Context) error {
	u, r, err := s.editable(c)
	if err != nil {
		return err
	}
	ctx, l := c.Request().Context(), lang(c)
	form, err := c.FormParams()
	if err != nil {
		return errs.Invalidf("err.form_unreadable")
	}
	rev, _ := strconv.Atoi(form.Get("revision"))
	e, perr := parseEntryForm(form)
	if !u.Actor().IsBureau() {
		e.DepartmentID = r.DepartmentID
	}
	title := i18n.T(l, "entry.edit_title", map[string]string{"name": r.Name})
	var fe errs.FieldErrors
	var stale *catalog.StaleError
	switch {
	case perr != nil:
		if !errors.As(perr, &fe) {
			return perr
		}
	case applyRowOp(&e, form.Get("op")):
	default:
		// A change that widens who reads the data waits for review.
		_, pending, err := s.app.Publish.Edit(ctx, u.Actor(), r.ID, rev, e)
		if pending != nil {
			return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/resources/%d?done=pending_review", r.ID))
		}
		if err == nil {
			return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/resources/%d?done=saved", r.ID))
		}
		if !errors.As(err, &fe) && !errors.As(err, &stale) {
			return err
		}
	}
	f, err := s.entryFormView(c, u, e, fe)
	if err != nil {
		return err
	}
	f.ResourceID, f.Revision = r.ID, rev
	status := http.StatusOK
	if len(fe) > 0 {
		status = http.StatusUnprocessableEntity
	}
	if stale != nil {
		cur, err := s.app.Catalog.GetResource(ctx, r.ID)
		if err != nil {
			return err
		}
		if f.Conflict, err = s.conflict(c, cur, stale.Edited); err != nil {
			return err
		}
		// Saving again applies the form over what is stored now, knowingly.
		f.Revision, status = cur.Revision, http.StatusConflict
	}
	return s.renderEntryForm(c, status, f, title)
}

// conflict says what others changed since revision rev, and what each of
// those fields holds now.
func (s *Server) conflict(c echo.Context, cur catalog.Resource, rev int) (*conflictView, error) {
	ctx, l := c.Request().Context(), lang(c)
	hist, err := s.app.Catalog.History(ctx, cur.ID)
	if err != nil {
		return nil, err
	}
	names := s.deptNamesByID(c)
	since := catalog.ChangesSince(hist, rev)
	v := &conflictView{Now: map[string]string{}}
	for _, h := range since {
		for _, line := range catalog.Describe(l, h, names) {
			v.Lines = append(v.Lines, frontend.DateTime(l, h.At)+" · "+line)
		}
	}
	for f := range catalog.ChangedFields(since) {
		v.Now[f] = catalog.FieldValue(l, cur.Entry, f, names)
	}
	return v, nil
}

func (s *Server) deptNamesByID(c echo.Context) catalog.Departments {
	m, err := s.deptNamesIn(c.Request().Context(), lang(c))
	if err != nil {
		s.log.Warn("department names", "err", err)
	}
	return func(id int64) string { return m[id] }
}

// deptNamesIn are the departments' names by id in language l.
func (s *Server) deptNamesIn(ctx context.Context, l string) (map[int64]string, error) {
	ds, err := s.app.Catalog.ListDepartments(ctx)
	if err != nil {
		return nil, err
	}
	m := map[int64]string{}
	for _, d := range ds {
		m[d.ID] = d.NameIn(l)
	}
	return m, nil
}

func (s *Server) consoleEntryRetire(c echo.Context) error {
	u, r, err := s.editable(c)
	if err != nil {
		return err
	}
	rev, _ := strconv.Atoi(c.FormValue("revision"))
	if _, err := s.app.Catalog.RetireResource(c.Request().Context(), u.Actor(), r.ID, rev, c.FormValue("reason"), time.Now()); err != nil {
		return s.entryActionFailed(c, r, err)
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/resources/%d?done=retired", r.ID))
}

func (s *Server) consoleEntryRestore(c echo.Context) error {
	u, r, err := s.editable(c)
	if err != nil {
		return err
	}
	rev, _ := strconv.Atoi(c.FormValue("revision"))
	if _, err := s.app.Catalog.RestoreResource(c.Request().Context(), u.Actor(), r.ID, rev); err != nil {
		return s.entryActionFailed(c, r, err)
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/resources/%d?done=restored", r.ID))
}

// entryActionFailed shows the resource page again with the reason a
// retire or restore was refused, in the reader's language.
func (s *Server) entryActionFailed(c echo.Context, r catalog.Resource, err error) error {
	msg, status, ok := refusal(lang(c), err)
	if !ok {
		return err
	}
	return s.resourcePage(c, status, r.ID, msg)
}

// refusal says in the reader's language why an action on a console page
// was refused, when the error is one people can act on (a field to fill,
// a rule, someone else first); ok is false for anything else, which goes
// to the error mapper.
func refusal(l string, err error) (msg string, status int, ok bool) {
	var fe errs.FieldErrors
	var pub *errs.Public
	var stale *catalog.StaleError
	switch {
	case errors.As(err, &fe):
		for _, k := range sortedFields(fe) {
			msg = i18n.Text(l, fe[k])
			break
		}
		return msg, http.StatusUnprocessableEntity, true
	case errors.As(err, &stale):
		return i18n.T(l, "entry.stale_action", nil), http.StatusConflict, true
	case errors.As(err, &pub):
		status := http.StatusConflict
		if errors.Is(err, errs.Forbidden) {
			status = http.StatusForbidden
		}
		return i18n.T(l, pub.Key, pub.Params), status, true
	}
	return "", 0, false
}

func sortedFields(fe errs.FieldErrors) []string {
	keys := make([]string, 0, len(fe))
	for k := range fe {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s *Server) consoleRetired(c echo.Context) error {
	u, _ := currentUser(c)
	f := catalog.Filter{Retired: true, Limit: 1000}
	if !u.Actor().IsBureau() && u.Role != auth.RoleOffice {
		f.DepartmentID = u.DepartmentID
	}
	rs, _, err := s.app.Catalog.ListResources(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "retired", s.newPage(c, i18n.T(lang(c), "entry.retired_title", nil), rs))
}

// historyLine is one change of the entry in words.
type historyLine struct {
	At       time.Time
	Revision int
	Lines    []string
}

// resourcePage is the console page of one entry; problem, when set, is
// why the last action was refused, shown at the top.
func (s *Server) resourcePage(c echo.Context, status int, id int64, problem string) error {
	ctx, l := c.Request().Context(), lang(c)
	u, _ := currentUser(c)
	r, err := s.app.Catalog.GetResource(ctx, id)
	if err != nil {
		return err
	}
	vs, err := s.app.Catalog.ListVersions(ctx, id)
	if err != nil {
		return err
	}
	states, err := s.app.Publish.VersionStates(ctx, id)
	if err != nil {
		return err
	}
	var rows []versionRow
	awaiting := false
	for _, v := range vs {
		rows = append(rows, versionRow{v.Number, v.RowsStored, v.RowsRejected, v.QualityScore, states[v.Number], v.SourceName})
		awaiting = awaiting || states[v.Number] == publish.Submitted
	}
	events, err := s.app.Publish.Events(ctx, id)
	if err != nil {
		return err
	}
	hist, err := s.app.Catalog.History(ctx, id)
	if err != nil {
		return err
	}
	names := s.deptNamesByID(c)
	var words []historyLine
	for i := len(hist) - 1; i >= 0; i-- { // newest first
		h := hist[i]
		words = append(words, historyLine{At: h.At, Revision: h.Revision, Lines: catalog.Describe(l, h, names)})
	}
	a := u.Actor()
	now := time.Now()
	canEdit := a.CanEditDepartment(r.DepartmentID)
	data := map[string]any{"Resource": r, "Versions": rows, "Events": events, "History": words, "IsPublic": r.IsPublic(now),
		"CanEdit": canEdit && r.RetiredAt == nil, "CanReview": s.app.Publish.CanApprove(a, r),
		"CanWithdraw": publish.CanWithdraw(a, r) && r.RetiredAt == nil, "MinNotice": s.app.Config.MinNoticeDays,
		"Department": names(r.DepartmentID), "Problem": problem, "Retired": r.RetiredAt != nil, "CanRestore": canEdit && r.RetiredAt != nil}
	if canEdit && r.RetiredAt == nil {
		if key := catalog.RetireBlocked(r, awaiting, now); key != "" {
			data["RetireBlocked"] = i18n.T(l, key, nil)
		} else {
			data["CanRetire"] = true
		}
	}
	return s.render(c, status, "resource", s.newPage(c, r.Name, data))
}

package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"opendata/auth"
	"opendata/db"
	"opendata/errs"
)

// Store keeps departments, catalog entries, their history and versions.
type Store struct{ DB *db.DB }

// Department kinds.
var DepartmentKinds = []string{"department", "town", "bureau", "office"}

// Department is a government department; towns and sub-districts
// (乡镇、街道) are departments too, with kind "town".
type Department struct {
	ID        int64     `json:"id"`
	Code      string    `json:"code"`
	Name      string    `json:"name"`
	NameEn    string    `json:"name_en,omitempty"`
	Kind      string    `json:"kind"`
	ParentID  int64     `json:"parent_id,omitempty"`
	Contact   string    `json:"contact,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateDepartment adds a department.
func (s *Store) CreateDepartment(ctx context.Context, d Department) (Department, error) {
	fe := errs.FieldErrors{}
	d.Code, d.Name = strings.TrimSpace(d.Code), strings.TrimSpace(d.Name)
	if !codeRe.MatchString(d.Code) {
		fe["code"] = MsgCode
	}
	if d.Name == "" {
		fe["name"] = MsgRequired
	}
	if d.Kind == "" {
		d.Kind = "department"
	}
	if !in(d.Kind, DepartmentKinds) {
		fe["kind"] = MsgChoice
	}
	if err := fe.Err(); err != nil {
		return Department{}, err
	}
	var parent any
	if d.ParentID != 0 {
		parent = d.ParentID
	}
	d.CreatedAt = db.Now()
	id, err := s.DB.InsertID(ctx, "INSERT INTO departments (code, name, name_en, kind, parent_id, contact, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		d.Code, d.Name, d.NameEn, d.Kind, parent, d.Contact, d.CreatedAt)
	if err != nil {
		return Department{}, fmt.Errorf("create department %s: %w", d.Code, err)
	}
	d.ID = id
	return d, nil
}

const deptCols = "id, code, name, name_en, kind, parent_id, contact, created_at"

func scanDept(row db.Scanner) (Department, error) {
	var d Department
	var parent sql.NullInt64
	if err := row.Scan(&d.ID, &d.Code, &d.Name, &d.NameEn, &d.Kind, &parent, &d.Contact, &d.CreatedAt); err != nil {
		return Department{}, db.MapErr(err)
	}
	d.ParentID = parent.Int64
	return d, nil
}

// GetDepartment returns a department by id.
func (s *Store) GetDepartment(ctx context.Context, id int64) (Department, error) {
	d, err := scanDept(s.DB.QueryRow(ctx, "SELECT "+deptCols+" FROM departments WHERE id = ?", id))
	if err != nil {
		return d, fmt.Errorf("department %d: %w", id, err)
	}
	return d, nil
}

// GetDepartmentByCode returns a department by code.
func (s *Store) GetDepartmentByCode(ctx context.Context, code string) (Department, error) {
	d, err := scanDept(s.DB.QueryRow(ctx, "SELECT "+deptCols+" FROM departments WHERE code = ?", code))
	if err != nil {
		return d, fmt.Errorf("department %q: %w", code, err)
	}
	return d, nil
}

// ListDepartments lists every department by code.
func (s *Store) ListDepartments(ctx context.Context) ([]Department, error) {
	return db.QueryAll(ctx, s.DB, "SELECT "+deptCols+" FROM departments ORDER BY code", scanDept)
}

// Resource is a stored catalog entry.
type Resource struct {
	ID        int64     `json:"id"`
	Revision  int       `json:"revision"`
	Entry               // the catalog fields, inline
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Latest ready version, 0 when none; LastUpdate is when it was made.
	LatestVersion int        `json:"latest_version"`
	LastUpdate    *time.Time `json:"last_update,omitempty"`
	// Publication state (set by the publish package).
	PublishedVersion int        `json:"published_version"`
	PublishedAt      *time.Time `json:"published_at,omitempty"`
	WithdrawReason   string     `json:"withdraw_reason,omitempty"`
	WithdrawAt       *time.Time `json:"withdraw_at,omitempty"`
	// Retired entries are out of the catalog: kept with their history and
	// versions, but not edited, uploaded to, shared or shown.
	RetiredAt     *time.Time `json:"retired_at,omitempty"`
	RetiredReason string     `json:"retired_reason,omitempty"`
}

// IsPublic reports whether the open catalog shows the resource at t: it
// is not retired, is open (unconditionally or on application), has a published version and
// its announced withdrawal, if any, has not taken effect.
func (r Resource) IsPublic(t time.Time) bool {
	return r.RetiredAt == nil && r.OpenType != OpenNone && r.PublishedVersion > 0 && (r.WithdrawAt == nil || t.Before(*r.WithdrawAt))
}

// Change is one field's old and new value in the history.
type Change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// HistoryEntry is one recorded change of an entry.
type HistoryEntry struct {
	Revision int               `json:"revision"`
	Action   string            `json:"action"`
	Actor    string            `json:"actor"`
	At       time.Time         `json:"at"`
	Changes  map[string]Change `json:"changes"`
}

// CreateResource validates and stores a new entry and its first history row.
func (s *Store) CreateResource(ctx context.Context, actor auth.Actor, e Entry) (Resource, error) {
	e.Normalize()
	if err := e.Validate(); err != nil {
		return Resource{}, err
	}
	if !actor.CanEditDepartment(e.DepartmentID) {
		return Resource{}, errs.Forbiddenf("err.catalog.own_dept_create")
	}
	// Only a department that is not there is the form's mistake; a
	// database that cannot be reached is an outage (503), not bad input.
	if _, err := s.GetDepartment(ctx, e.DepartmentID); errors.Is(err, errs.NotFound) {
		return Resource{}, errs.FieldErrors{"department_id": MsgNoDepartment}
	} else if err != nil {
		return Resource{}, err
	}
	body, _ := json.Marshal(e)
	changes := diff(Entry{}, e)
	var id int64
	err := s.DB.Tx(ctx, func(q db.Querier) error {
		now := db.Now()
		var err error
		id, err = q.InsertID(ctx, `INSERT INTO resources (code, department_id, revision, entry, name, catalog_kind, domain, share_type, open_type, update_period, created_by, created_at, updated_at)
			VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Code, e.DepartmentID, string(body), e.Name, e.CatalogKind, e.Domain, string(e.ShareType), string(e.OpenType), e.UpdatePeriod, actorID(actor), now, now)
		if err != nil {
			if errorsIsConflict(err) {
				return errs.FieldErrors{"code": MsgCodeTaken}
			}
			return err
		}
		return addHistory(ctx, q, id, 1, "create", actor, changes, now)
	})
	if err != nil {
		return Resource{}, err
	}
	return s.GetResource(ctx, id)
}

// UpdateResource replaces an entry. When expectRevision > 0 and the stored
// revision differs, it fails with Conflict (someone else edited meanwhile).
func (s *Store) UpdateResource(ctx context.Context, actor auth.Actor, id int64, expectRevision int, e Entry) (Resource, error) {
	e.Normalize()
	if err := e.Validate(); err != nil {
		return Resource{}, err
	}
	err := s.DB.Tx(ctx, func(q db.Querier) error { return s.update(ctx, q, actor, id, expectRevision, e, false) })
	if err != nil {
		return Resource{}, err
	}
	return s.GetResource(ctx, id)
}

// update is UpdateResource in q; reviewed allows a widening change (an
// approved pending edit).
func (s *Store) update(ctx context.Context, q db.Querier, actor auth.Actor, id int64, expectRevision int, e Entry, reviewed bool) error {
	old, rev, err := loadEntry(ctx, q, id)
	if err != nil {
		return err
	}
	if !actor.CanEditDepartment(old.DepartmentID) || !actor.CanEditDepartment(e.DepartmentID) {
		return errs.Forbiddenf("err.catalog.own_dept_edit")
	}
	if expectRevision > 0 && rev != expectRevision {
		return &StaleError{Current: rev, Edited: expectRevision}
	}
	if retired, err := isRetired(ctx, q, id); err != nil || retired {
		if err == nil {
			err = ErrRetired
		}
		return err
	}
	if !reviewed {
		has, err := hasData(ctx, q, id)
		if err != nil {
			return err
		}
		if len(EditNeedsReview(has, old, e)) > 0 {
			return ErrNeedsReview
		}
	}
	changes := diff(old, e)
	if len(changes) == 0 {
		return nil
	}
	body, _ := json.Marshal(e)
	now := db.Now()
	_, err = q.Exec(ctx, `UPDATE resources SET code = ?, department_id = ?, revision = ?, entry = ?, name = ?, catalog_kind = ?, domain = ?,
		share_type = ?, open_type = ?, update_period = ?, updated_at = ? WHERE id = ?`,
		e.Code, e.DepartmentID, rev+1, string(body), e.Name, e.CatalogKind, e.Domain, string(e.ShareType), string(e.OpenType), e.UpdatePeriod, now, id)
	if err != nil {
		if errorsIsConflict(err) {
			return errs.FieldErrors{"code": MsgCodeTaken}
		}
		return err
	}
	return addHistory(ctx, q, id, rev+1, "update", actor, changes, now)
}

// StaleError is an edit made on an older revision than the stored one:
// someone else changed the entry meanwhile. It is a Conflict; the form
// shows what changed since Edited.
type StaleError struct{ Current, Edited int }

func (e *StaleError) Error() string {
	return fmt.Sprintf("the entry was changed by someone else (revision %d, you edited %d)", e.Current, e.Edited)
}

// Is makes errors.Is(err, errs.Conflict) hold.
func (e *StaleError) Is(target error) bool { return target == errs.Conflict }

// ErrRetired refuses changes to a retired entry.
var ErrRetired = &errs.Public{Kind: errs.Conflict, Code: "retired", Key: "entry.retired_no_change"}

func isRetired(ctx context.Context, q db.Querier, id int64) (bool, error) {
	var at *time.Time
	if err := q.QueryRow(ctx, "SELECT retired_at FROM resources WHERE id = ?", id).Scan(&at); err != nil {
		return false, fmt.Errorf("resource %d: %w", id, db.MapErr(err))
	}
	return at != nil, nil
}

// RetireBlocked says why r cannot be retired now, as a message key, or ""
// when it can: an entry the open catalog still shows must first be
// withdrawn with notice, and one with a version awaiting review
// must have it decided first.
func RetireBlocked(r Resource, awaitingReview bool, now time.Time) string {
	switch {
	case r.RetiredAt != nil:
		return "entry.retire.already"
	case r.IsPublic(now):
		return "entry.retire.public"
	case awaitingReview:
		return "entry.retire.in_review"
	}
	return ""
}

// RetireResource takes an entry out of the catalog with a reason. It keeps
// the entry, its history and its versions; RestoreResource brings it back.
func (s *Store) RetireResource(ctx context.Context, actor auth.Actor, id int64, expectRevision int, reason string, now time.Time) (Resource, error) {
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n < 2 || n > MaxText {
		return Resource{}, errs.FieldErrors{"reason": "entry.retire.reason"}
	}
	return s.setRetired(ctx, actor, id, expectRevision, func(r Resource, awaiting bool) error {
		if key := RetireBlocked(r, awaiting, now); key != "" {
			return &errs.Public{Kind: errs.Conflict, Code: "retire_blocked", Key: key}
		}
		return nil
	}, "retire", &now, reason)
}

// RestoreResource puts a retired entry back in the catalog.
func (s *Store) RestoreResource(ctx context.Context, actor auth.Actor, id int64, expectRevision int) (Resource, error) {
	return s.setRetired(ctx, actor, id, expectRevision, func(r Resource, _ bool) error {
		if r.RetiredAt == nil {
			return &errs.Public{Kind: errs.Conflict, Code: "not_retired", Key: "entry.restore.not_retired"}
		}
		return nil
	}, "restore", nil, "")
}

func (s *Store) setRetired(ctx context.Context, actor auth.Actor, id int64, expectRevision int, allowed func(Resource, bool) error,
	action string, at *time.Time, reason string) (Resource, error) {
	err := s.DB.Tx(ctx, func(q db.Querier) error {
		var r Resource
		var body string
		err := q.QueryRow(ctx, "SELECT revision, entry, published_version, withdraw_at, retired_at, retired_reason FROM resources WHERE id = ?", id).
			Scan(&r.Revision, &body, &r.PublishedVersion, &r.WithdrawAt, &r.RetiredAt, &r.RetiredReason)
		if err != nil {
			return fmt.Errorf("resource %d: %w", id, db.MapErr(err))
		}
		if err := json.Unmarshal([]byte(body), &r.Entry); err != nil {
			return fmt.Errorf("resource %d: corrupt entry: %w", id, err)
		}
		if !actor.CanEditDepartment(r.DepartmentID) {
			return errs.Forbiddenf("err.catalog.own_dept_retire")
		}
		if expectRevision > 0 && r.Revision != expectRevision {
			return &StaleError{Current: r.Revision, Edited: expectRevision}
		}
		// pub_status is the publish package's column; a submitted version
		// is one a reviewer is looking at.
		var awaiting int
		if err := q.QueryRow(ctx, "SELECT COUNT(*) FROM versions WHERE resource_id = ? AND status = ? AND pub_status = 'submitted'", id, VersionReady).Scan(&awaiting); err != nil {
			return err
		}
		if err := allowed(r, awaiting > 0); err != nil {
			return err
		}
		res, err := q.Exec(ctx, "UPDATE resources SET retired_at = ?, retired_reason = ?, revision = ?, updated_at = ? WHERE id = ? AND revision = ?",
			at, reason, r.Revision+1, db.Now(), id, r.Revision)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return &StaleError{Current: r.Revision + 1, Edited: r.Revision}
		}
		var from, to any
		if action == "retire" {
			to = reason
		} else {
			from = r.RetiredReason
		}
		return addHistory(ctx, q, id, r.Revision+1, action, actor, map[string]Change{"retired": {From: from, To: to}}, db.Now())
	})
	if err != nil {
		return Resource{}, err
	}
	return s.GetResource(ctx, id)
}

func errorsIsConflict(err error) bool { return errors.Is(err, errs.Conflict) }

func actorID(a auth.Actor) any {
	if a.ID == 0 {
		return nil
	}
	return a.ID
}

func addHistory(ctx context.Context, q db.Querier, id int64, rev int, action string, actor auth.Actor, changes map[string]Change, at time.Time) error {
	body, _ := json.Marshal(changes)
	_, err := q.Exec(ctx, "INSERT INTO resource_history (resource_id, revision, action, actor_id, actor_name, changes, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		id, rev, action, actorID(actor), actor.Name, string(body), at)
	return err
}

func loadEntry(ctx context.Context, q db.Querier, id int64) (Entry, int, error) {
	var body string
	var rev int
	if err := q.QueryRow(ctx, "SELECT entry, revision FROM resources WHERE id = ?", id).Scan(&body, &rev); err != nil {
		return Entry{}, 0, fmt.Errorf("resource %d: %w", id, db.MapErr(err))
	}
	var e Entry
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		return Entry{}, 0, fmt.Errorf("resource %d: corrupt entry: %w", id, err)
	}
	return e, rev, nil
}

// diff compares two entries field by field (by JSON name).
func diff(a, b Entry) map[string]Change {
	out := map[string]Change{}
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	t := va.Type()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		x, y := va.Field(i).Interface(), vb.Field(i).Interface()
		if isEmpty(va.Field(i)) && isEmpty(vb.Field(i)) {
			continue
		}
		if !reflect.DeepEqual(x, y) {
			out[name] = Change{From: x, To: y}
		}
	}
	return out
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return v.IsZero()
}

const resourceSelect = `SELECT r.id, r.revision, r.entry, r.created_at, r.updated_at,
	COALESCE((SELECT MAX(v.number) FROM versions v WHERE v.resource_id = r.id AND v.status = 'ready'), 0),
	r.published_version, r.published_at, r.withdraw_reason, r.withdraw_at, r.retired_at, r.retired_reason
	FROM resources r`

func (s *Store) scanResources(ctx context.Context, rows *sql.Rows) ([]Resource, error) {
	out, err := db.Collect(rows, func(row db.Scanner) (Resource, error) {
		var r Resource
		var body string
		if err := row.Scan(&r.ID, &r.Revision, &body, &r.CreatedAt, &r.UpdatedAt, &r.LatestVersion,
			&r.PublishedVersion, &r.PublishedAt, &r.WithdrawReason, &r.WithdrawAt, &r.RetiredAt, &r.RetiredReason); err != nil {
			return r, err
		}
		if err := json.Unmarshal([]byte(body), &r.Entry); err != nil {
			return r, fmt.Errorf("resource %d: corrupt entry: %w", r.ID, err)
		}
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].LatestVersion > 0 {
			var at time.Time
			if err := s.DB.QueryRow(ctx, "SELECT ready_at FROM versions WHERE resource_id = ? AND number = ?", out[i].ID, out[i].LatestVersion).Scan(&at); err == nil {
				out[i].LastUpdate = &at
			}
		}
	}
	return out, nil
}

// GetResource returns one entry.
func (s *Store) GetResource(ctx context.Context, id int64) (Resource, error) {
	rows, err := s.DB.Query(ctx, resourceSelect+" WHERE r.id = ?", id)
	if err != nil {
		return Resource{}, err
	}
	rs, err := s.scanResources(ctx, rows)
	if err != nil {
		return Resource{}, err
	}
	if len(rs) == 0 {
		return Resource{}, errs.NotFoundf("err.resource_not_found", "id", id)
	}
	return rs[0], nil
}

// GetResourceByCode returns one entry by its code.
func (s *Store) GetResourceByCode(ctx context.Context, code string) (Resource, error) {
	var id int64
	if err := s.DB.QueryRow(ctx, "SELECT id FROM resources WHERE code = ?", code).Scan(&id); err != nil {
		return Resource{}, fmt.Errorf("resource %q: %w", code, db.MapErr(err))
	}
	return s.GetResource(ctx, id)
}

// Filter narrows ListResources.
type Filter struct {
	// Public keeps only what the open catalog shows (see Resource.IsPublic).
	Public       bool
	Now          time.Time
	Text         string // substring of the name or summary (the fallback when search is down)
	UpdatePeriod string
	DepartmentID int64
	Domain       string
	ShareType    ShareType
	OpenType     OpenType
	// Retired lists the retired entries instead of the current ones.
	Retired bool
	Limit   int
	Offset  int
}

// ListResources lists entries, newest change first.
func (s *Store) ListResources(ctx context.Context, f Filter) ([]Resource, int, error) {
	where, args := []string{"1=1"}, []any{}
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.Retired {
		where = append(where, "r.retired_at IS NOT NULL")
	} else {
		where = append(where, "r.retired_at IS NULL")
	}
	if f.DepartmentID != 0 {
		add("r.department_id = ?", f.DepartmentID)
	}
	if f.Domain != "" {
		add("r.domain = ?", f.Domain)
	}
	if f.ShareType != "" {
		add("r.share_type = ?", string(f.ShareType))
	}
	if f.OpenType != "" {
		add("r.open_type = ?", string(f.OpenType))
	}
	if f.UpdatePeriod != "" {
		add("r.update_period = ?", f.UpdatePeriod)
	}
	if f.Text != "" {
		where = append(where, "(r.name LIKE ? ESCAPE '\\' OR r.entry LIKE ? ESCAPE '\\')")
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(f.Text) + "%"
		args = append(args, like, like)
	}
	if f.Public {
		where = append(where, "r.open_type <> 'none' AND r.published_version > 0 AND (r.withdraw_at IS NULL OR r.withdraw_at > ?)")
		args = append(args, f.Now)
	}
	w := " WHERE " + strings.Join(where, " AND ")
	var total int
	if err := s.DB.QueryRow(ctx, "SELECT COUNT(*) FROM resources r"+w, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	rows, err := s.DB.Query(ctx, resourceSelect+w+" ORDER BY r.updated_at DESC, r.id DESC LIMIT ? OFFSET ?", append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	rs, err := s.scanResources(ctx, rows)
	return rs, total, err
}

// History returns an entry's changes, oldest first.
func (s *Store) History(ctx context.Context, id int64) ([]HistoryEntry, error) {
	out, err := db.QueryAll(ctx, s.DB, "SELECT revision, action, actor_name, at, changes FROM resource_history WHERE resource_id = ? ORDER BY revision",
		func(row db.Scanner) (HistoryEntry, error) {
			var h HistoryEntry
			var body string
			if err := row.Scan(&h.Revision, &h.Action, &h.Actor, &h.At, &body); err != nil {
				return h, err
			}
			if err := json.Unmarshal([]byte(body), &h.Changes); err != nil {
				return h, fmt.Errorf("resource %d revision %d: corrupt history: %w", id, h.Revision, err)
			}
			return h, nil
		}, id)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		if _, err := s.GetResource(ctx, id); err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Revision < out[j].Revision })
	return out, nil
}

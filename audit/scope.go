package audit

import (
	"context"
	"strings"

	"opendata/auth"
	"opendata/db"
	"opendata/errs"
)

// Scope is whose events a reader sees: every event, or only the events on
// one providing department's resources (who read its data, when and why).
type Scope struct {
	DepartmentID int64 // 0: every event
}

// ScopeFor is the audit scope of actor: the bureau and the office
// supervise and see every event; a department's staff see the events on
// their department's resources; nobody else reads the audit log.
func ScopeFor(a auth.Actor) (Scope, error) {
	switch {
	case a.Role == auth.RoleBureauAdmin || a.Role == auth.RoleOffice:
		return Scope{}, nil
	case a.Role.NeedsDepartment() && a.DepartmentID != 0:
		return Scope{DepartmentID: a.DepartmentID}, nil
	}
	return Scope{}, errs.Forbiddenf("err.audit.who")
}

// where adds the scope's condition to a query on audit_events.
func (sc Scope) where(q string, args []any) (string, []any) {
	if sc.DepartmentID == 0 {
		return q, args
	}
	return q + " AND resource_id IN (SELECT id FROM resources WHERE department_id = ?)", append(args, sc.DepartmentID)
}

// checkResources answers NotFound for the first resource outside the scope:
// a department asking for another's resource learns nothing of it.
func (sc Scope) checkResources(ctx context.Context, d *db.DB, ids []int64) error {
	if sc.DepartmentID == 0 || len(ids) == 0 {
		return nil
	}
	args := []any{sc.DepartmentID}
	for _, id := range ids {
		args = append(args, id)
	}
	found, err := db.QueryAll(ctx, d, "SELECT id FROM resources WHERE department_id = ? AND id IN ("+strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+")", db.Value[int64], args...)
	if err != nil {
		return err
	}
	mine := map[int64]bool{}
	for _, id := range found {
		mine[id] = true
	}
	for _, id := range ids {
		if !mine[id] {
			return errs.NotFoundf("err.resource_not_found", "id", id)
		}
	}
	return nil
}

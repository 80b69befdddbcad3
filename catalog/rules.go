package catalog

import "opendata/auth"

// QualityVisibleTo reports whether actor sees what a version holds before
// it is public — its quality report (which names rejected values), its
// first rows and its comparison with the published version: the providing
// department, the bureau and the leading-group office, who review it.
func QualityVisibleTo(actor auth.Actor, r Resource) bool {
	return actor.CanEditDepartment(r.DepartmentID) || actor.Role == auth.RoleOffice
}

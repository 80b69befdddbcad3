package publish

import (
	"context"

	"opendata/auth"
	"opendata/catalog"
	"opendata/errs"
)

// The publication rules every handler (API, portal, console, exports)
// calls: who withdraws, who reviews, which versions the open catalog shows.

// CanWithdraw reports whether actor announces (or cancels) the withdrawal
// of r from the open catalog: the providing department's admin or the
// bureau.
func CanWithdraw(actor auth.Actor, r catalog.Resource) bool {
	return actor.IsBureau() || actor.Role == auth.RoleDeptAdmin && actor.DepartmentID == r.DepartmentID
}

// Reviews reports whether actor reviews publications at all (of some
// department): the bureau always, a department admin unless the bureau
// alone approves. CanApprove says for which resource.
func (s *Service) Reviews(actor auth.Actor) bool {
	return actor.IsBureau() || actor.Role == auth.RoleDeptAdmin && s.approver() != "bureau"
}

// PublicVersions lists the versions of r the open catalog shows (the
// published ones), newest first; none when r is not public at all.
func (s *Service) PublicVersions(ctx context.Context, r catalog.Resource) ([]catalog.Version, error) {
	if !r.IsPublic(s.Now.Now()) {
		return []catalog.Version{}, nil
	}
	states, err := s.VersionStates(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	all, err := s.Catalog.ListVersions(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	return publishedOf(all, states), nil
}

// PublicVersion is version n of r as the open catalog shows it (n = 0: the
// current published version), or NotFound when the catalog does not show it.
func (s *Service) PublicVersion(ctx context.Context, r catalog.Resource, n int) (catalog.Version, error) {
	if n == 0 {
		n = r.PublishedVersion
	}
	if !r.IsPublic(s.Now.Now()) || n <= 0 {
		return catalog.Version{}, errs.NotFoundf("err.dataset_not_found", "id", r.ID)
	}
	states, err := s.VersionStates(ctx, r.ID)
	if err != nil {
		return catalog.Version{}, err
	}
	if states[n] != Published {
		return catalog.Version{}, errs.NotFoundf("err.version_not_found", "n", n)
	}
	return s.Catalog.GetVersion(ctx, r.ID, n)
}

// publishedOf keeps the versions whose state is published, in order.
func publishedOf(all []catalog.Version, states map[int]string) []catalog.Version {
	out := []catalog.Version{}
	for _, v := range all {
		if states[v.Number] == Published {
			out = append(out, v)
		}
	}
	return out
}

// OpenColumns is what a version's open variant holds: every column but the
// dropped ones.
func OpenColumns(v catalog.Version) []catalog.VersionColumn {
	out := []catalog.VersionColumn{}
	for _, c := range v.Columns {
		if c.Open != catalog.TreatDropped {
			out = append(out, c)
		}
	}
	return out
}

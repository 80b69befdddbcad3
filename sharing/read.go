package sharing

import (
	"context"
	"time"

	"opendata/access"
	"opendata/catalog"
	"opendata/errs"
)

// Who reads which variant of which version (design.md §5), decided here
// for every data path: the records API, the share download and the
// console alike.
//
//	reader                                      reads
//	a department the share type lets in         full variant of the latest version (with a purpose; a grant's columns)
//	anyone, open type unconditional             open variant of the published version
//	an account with an on-application grant     open variant of the published version (the grant's columns)
//	anyone else                                 nothing: 404 when not public, else 401/403 saying why

// Variants of a version.
const (
	VariantFull = "full" // every column; internal only
	VariantOpen = "open" // personal data masked or dropped
)

// OpenGrants finds an outside account's on-application grant in force
// (access.Service does).
type OpenGrants interface {
	ActiveGrant(ctx context.Context, resource, user int64) (access.Grant, bool, error)
}

// Reader is who asks to read a resource's data.
type Reader struct {
	// Department is the caller's department identity (a department's staff
	// or system credential), nil for anyone else.
	Department *Principal
	// Purpose is what a department states it reads for.
	Purpose string
	// AccountID is the outside account calling (a developer's session or
	// API key); 0 for an anonymous caller.
	AccountID int64
}

// Target is what a reader may read of a resource, and how the read is
// accounted for.
type Target struct {
	Version int
	Variant string   // VariantFull or VariantOpen
	Key     string   // the Parquet object to read
	Columns []string // nil: every column of the variant
	// Internal: read by a department, audited as internal access with
	// Purpose (Principal is who).
	Internal  bool
	Principal Principal
	Purpose   string
	// ApplicationID is the on-application grant the read is made under
	// (audited as a granted read); 0 for none.
	ApplicationID int64
	// Public: unconditionally open; anyone may cache it and it is not
	// audited.
	Public bool
}

// PublicRecords reports whether anyone, without an account or a
// department, reads r's records at t (the open variant of its published
// version): r is public and open unconditionally. The dataset page offers
// its table explorer and map only then; ReadTarget answers such a reader
// with the same rule.
func PublicRecords(r catalog.Resource, t time.Time) bool {
	return r.IsPublic(t) && r.OpenType == catalog.OpenUnconditional
}

// ReadTarget applies the matrix above to a read of r's records: a
// department the share type lets in reads the full variant; otherwise
// everyone is judged by the open type, departments included (an open
// dataset is open to them too).
func (s *Service) ReadTarget(ctx context.Context, rd Reader, r catalog.Resource) (Target, error) {
	if rd.Department != nil {
		d, err := s.Decide(ctx, *rd.Department, r)
		if err != nil {
			return Target{}, err
		}
		if d.Allowed {
			return s.fullTarget(*rd.Department, rd.Purpose, r, d)
		}
		if !r.IsPublic(s.Now.Now()) || r.OpenType != catalog.OpenUnconditional {
			return Target{}, d.refusal(r.Code)
		}
	}
	if !r.IsPublic(s.Now.Now()) {
		return Target{}, errs.NotFoundf("err.dataset_not_found", "id", r.ID)
	}
	t := Target{Version: r.PublishedVersion, Variant: VariantOpen, Key: catalog.VersionPrefix(r.ID, r.PublishedVersion) + "open.parquet"}
	if PublicRecords(r, s.Now.Now()) {
		t.Public = true
		return t, nil
	}
	switch r.OpenType {
	case catalog.OpenOnApplication:
		if rd.AccountID == 0 {
			return Target{}, errs.Unauthenticatedf("err.read.apply_signup", "code", r.Code, "condition", r.OpenCondition, "id", r.ID)
		}
		var g access.Grant
		ok := false
		if s.OpenGrants != nil {
			var err error
			if g, ok, err = s.OpenGrants.ActiveGrant(ctx, r.ID, rd.AccountID); err != nil {
				return Target{}, err
			}
		}
		if !ok {
			return Target{}, errs.Forbiddenf("err.read.no_grant", "code", r.Code, "id", r.ID)
		}
		t.Columns, t.ApplicationID = g.Columns, g.ApplicationID
		return t, nil
	}
	return Target{}, errs.NotFoundf("err.dataset_not_found", "id", r.ID)
}

// SharedTarget is what a department's share download reads: the full
// variant of the latest version, only as the share type allows (no open
// fallback: the download is the internal path), with a purpose.
func (s *Service) SharedTarget(ctx context.Context, p Principal, purpose string, r catalog.Resource) (Target, error) {
	if _, err := CheckPurpose(purpose); err != nil {
		return Target{}, err
	}
	d, err := s.Decide(ctx, p, r)
	if err != nil {
		return Target{}, err
	}
	if !d.Allowed {
		return Target{}, d.refusal(r.Code)
	}
	return s.fullTarget(p, purpose, r, d)
}

func (s *Service) fullTarget(p Principal, purpose string, r catalog.Resource, d Decision) (Target, error) {
	purpose, err := CheckPurpose(purpose)
	if err != nil {
		return Target{}, err
	}
	if r.LatestVersion == 0 {
		return Target{}, errs.NotFoundf("err.read.no_data", "code", r.Code)
	}
	return Target{Version: r.LatestVersion, Variant: VariantFull, Key: catalog.VersionPrefix(r.ID, r.LatestVersion) + "full.parquet",
		Columns: d.Columns, Internal: true, Principal: p, Purpose: purpose}, nil
}

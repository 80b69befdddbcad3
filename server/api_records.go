package server

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"opendata/access"
	"opendata/catalog"
	"opendata/errs"
	"opendata/query"
	"opendata/sharing"
)

// recordsTarget is what a caller may read of a resource: which file, which
// columns, and how the call is accounted for.
type recordsTarget struct {
	req      query.Request
	internal *sharing.Principal // a department reading the full variant
	purpose  string
	grant    *access.Grant // an on-application grant in force
	userID   int64
	userName string
	keyID    int64
	public   bool // unconditionally open: cacheable, no audit
}

// recordsAccess applies design.md §5 to a records call:
//   - a department (staff with a department, or a system credential) reads
//     the full variant of the latest version when sharing.Decide allows,
//     with a stated purpose, limited to the grant's columns;
//   - everyone else reads the open variant of the published version: open
//     type unconditional for anyone, on application only with an approved,
//     unexpired application of the caller's account;
//   - anything else is 404 (not public) or 403 (why not), with no data.
func (s *Server) recordsAccess(c echo.Context, r catalog.Resource) (recordsTarget, error) {
	ctx := c.Request().Context()
	t := recordsTarget{req: query.Request{Resource: r.ID, Params: c.QueryParams()}}
	if p, ok := internalPrincipal(c); ok {
		d, err := s.app.Sharing.Decide(ctx, p, r)
		if err != nil {
			return t, err
		}
		if d.Allowed {
			purpose, err := sharing.CheckPurpose(purposeOf(c))
			if err != nil {
				return t, err
			}
			if r.LatestVersion == 0 {
				return t, errs.NotFoundf("%s has no data yet", r.Code)
			}
			t.internal, t.purpose = &p, purpose
			t.req.Version, t.req.Variant, t.req.Columns = r.LatestVersion, "full", d.Columns
			t.req.Key = catalog.VersionPrefix(r.ID, r.LatestVersion) + "full.parquet"
			t.req.Params.Del("purpose")
			return t, nil
		}
		if !r.IsPublic(time.Now()) || r.OpenType != "unconditional" {
			return t, errs.Forbiddenf("%s: %s", r.Code, d.Reason)
		}
	}
	if !r.IsPublic(time.Now()) {
		return t, errs.NotFoundf("dataset %d", r.ID)
	}
	if k, ok := apiCaller(c); ok {
		t.userID, t.userName, t.keyID = k.User.ID, k.User.Username, k.Key.ID
	} else if u, ok := developer(c); ok {
		t.userID, t.userName = u.ID, u.Username
	}
	t.req.Version, t.req.Variant = r.PublishedVersion, "open"
	t.req.Key = catalog.VersionPrefix(r.ID, r.PublishedVersion) + "open.parquet"
	switch r.OpenType {
	case "unconditional":
		t.public = true
		return t, nil
	case "on_application":
		if t.userID == 0 {
			return t, fmt.Errorf("%w: %s is open on application (%s): sign up, apply on /datasets/%d and call with your API key", errs.Unauthenticated, r.Code, r.OpenCondition, r.ID)
		}
		g, ok, err := s.app.Access.ActiveGrant(ctx, r.ID, t.userID)
		if err != nil {
			return t, err
		}
		if !ok {
			return t, errs.Forbiddenf("%s is open on application: you have no approved application in force; apply on /datasets/%d", r.Code, r.ID)
		}
		t.grant, t.req.Columns = &g, g.Columns
		return t, nil
	}
	return t, errs.NotFoundf("dataset %d", r.ID)
}

// internalPrincipal is the department identity of the call, if any.
func internalPrincipal(c echo.Context) (sharing.Principal, bool) {
	if p, ok := c.Get(ctxSystem).(sharing.Principal); ok {
		return p, true
	}
	if u, err := currentUser(c); err == nil && u.DepartmentID != 0 {
		return sharing.FromActor(u.Actor()), true
	}
	return sharing.Principal{}, false
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (cw *countingWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.n += int64(n)
	return n, err
}

// records is GET /api/v1/resources/{id}/records: parse, authorise, query,
// stream. Every parameter problem is a 400 naming the parameter before a
// byte of data is written.
func (s *Server) records(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	r, err := s.app.Catalog.GetResource(ctx, id)
	if err != nil {
		return err
	}
	t, err := s.recordsAccess(c, r)
	if err != nil {
		return err
	}
	p, err := s.app.Records.Prepare(ctx, s.app.Cursors, t.req)
	if err != nil {
		return err
	}
	if t.internal != nil {
		s.app.Sharing.RecordAccess(ctx, *t.internal, r.ID, t.req.Version, t.purpose, c.RealIP(), "records API: "+c.QueryString())
	} else if t.grant != nil {
		s.app.Access.RecordGrantedRead(ctx, t.userID, t.userName, t.keyID, r.ID, t.req.Version, t.grant.ApplicationID, c.RealIP())
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, query.ContentType(p.Query.Format))
	h.Set("X-Dataset-Version", fmt.Sprint(t.req.Version))
	if t.public {
		h.Set("Cache-Control", "public, max-age=60")
	} else {
		h.Set("Cache-Control", "private, no-store")
	}
	streamed := p.Query.Format != "json"
	if streamed {
		h.Set("Trailer", "Next-Cursor")
	}
	cw := &countingWriter{w: c.Response()}
	res, err := p.Write(ctx, cw, func(next string) {
		if streamed && next != "" {
			h.Set("Next-Cursor", next)
		}
	})
	if t.internal == nil {
		s.app.Access.Usage.Add(t.userID, t.keyID, r.ID, res.Rows, cw.n, time.Now())
	}
	if err != nil && cw.n > 0 {
		// The answer has begun: the status is sent; log and cut it short.
		s.log.Warn("records stream failed", "resource", r.ID, "err", err)
		return nil
	}
	if err == nil && cw.n == 0 {
		c.Response().WriteHeader(http.StatusOK)
	}
	return err
}

package server

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"opendata/query"
	"opendata/sharing"
)

// reader is who calls, for the read matrix: a department (staff with a
// department or a system credential) with its stated purpose, and the
// outside account (API key or developer session), if any.
func reader(c echo.Context) (sharing.Reader, callerIDs) {
	var rd sharing.Reader
	if p, ok := internalPrincipal(c); ok {
		rd.Department, rd.Purpose = &p, purposeOf(c)
	}
	var who callerIDs
	if k, ok := apiCaller(c); ok {
		who = callerIDs{k.User.ID, k.User.Username, k.Key.ID}
	} else if u, ok := developer(c); ok {
		who = callerIDs{u.ID, u.Username, 0}
	}
	rd.AccountID = who.userID
	return rd, who
}

// callerIDs name an outside caller in the usage counts and the audit.
type callerIDs struct {
	userID   int64
	userName string
	keyID    int64
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
	rd, who := reader(c)
	t, err := s.app.Sharing.ReadTarget(ctx, rd, r)
	if err != nil {
		return err
	}
	params := c.QueryParams()
	if t.Internal {
		if err := readNotByLink(c); err != nil {
			return err
		}
		params.Del("purpose")
	}
	p, err := s.app.Records.Prepare(ctx, s.app.Cursors, query.Request{Resource: r.ID, Version: t.Version, Variant: t.Variant, Key: t.Key, Columns: t.Columns, Params: params})
	if err != nil {
		return err
	}
	if t.Internal {
		err = s.app.Sharing.RecordAccess(ctx, t.Principal, r.ID, t.Version, t.Purpose, c.RealIP(), "records API: "+c.QueryString())
	} else if t.ApplicationID != 0 {
		err = s.app.Access.RecordGrantedRead(ctx, who.userID, who.userName, who.keyID, r.ID, t.Version, t.ApplicationID, c.RealIP())
	}
	if err != nil {
		return err // no audit event, no rows
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, query.ContentType(p.Query.Format))
	h.Set("X-Dataset-Version", fmt.Sprint(t.Version))
	if t.Public {
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
	if !t.Internal {
		s.app.Access.Usage.Add(who.userID, who.keyID, r.ID, res.Rows, cw.n, time.Now())
	}
	if err != nil && cw.n > 0 {
		// The answer has begun: the status is sent; log and cut it short.
		s.log.WarnContext(ctx, "records stream failed", "resource", r.ID, "err", err)
		return nil
	}
	if err == nil && cw.n == 0 {
		c.Response().WriteHeader(http.StatusOK)
	}
	return err
}

package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"opendata/auth"
	"opendata/db"
	"opendata/errs"
	"opendata/i18n"
	"opendata/ingest"
	"opendata/jobs"
)

func (s *Server) bindIngest(g *echo.Group) {
	g.POST("/catalog/resources/:id/uploads", s.upload)
	g.GET("/jobs/:job", s.getJob)
	g.POST("/jobs/:job/cancel", s.cancelJob)
}

type ingestParams struct {
	UploadKey string `json:"upload_key"`
	Name      string `json:"name"`
	Format    string `json:"format,omitempty"`
	Encoding  string `json:"encoding,omitempty"`
	Sheet     string `json:"sheet,omitempty"`
	Lang      string `json:"lang"`
}

// CheckUploadName refuses file names that try to reach outside a folder,
// also when URL-encoded (once or several times).
func CheckUploadName(name string) (string, error) {
	decoded := name
	for i := 0; i < 4; i++ {
		d, err := url.PathUnescape(decoded)
		if err != nil || d == decoded {
			break
		}
		decoded = d
	}
	for _, s := range []string{name, decoded} {
		if s == "" || len(s) > 255 || strings.ContainsAny(s, `/\`) || strings.Contains(s, "..") || s == "." {
			return "", errs.FieldErrors{"file": fmt.Sprintf("file name %q must be a plain name without folders or '..'", name)}
		}
		for _, r := range s {
			if r < 0x20 || r == 0x7f {
				return "", errs.FieldErrors{"file": "file name contains control characters"}
			}
		}
	}
	return decoded, nil
}

// upload streams a multipart upload to a temporary file (never into
// memory), stores it in the object store and queues an ingest job.
func (s *Server) upload(c echo.Context) error {
	j, lang, err := s.startUpload(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/api/v1/jobs/"+j.ID)
	return c.JSON(http.StatusAccepted, map[string]any{"job": jobView(j, lang), "status_url": "/api/v1/jobs/" + j.ID})
}

func (s *Server) startUpload(c echo.Context) (jobs.Job, string, error) {
	j, p, err := s.startUploadParams(c)
	return j, p.Lang, err
}

func (s *Server) startUploadParams(c echo.Context) (j jobs.Job, p ingestParams, err error) {
	u, id, err := withID(c, staff)
	if err != nil {
		return j, p, err
	}
	ctx := c.Request().Context()
	r, err := s.app.Catalog.GetResource(ctx, id)
	if err != nil {
		return j, p, err
	}
	if !u.Actor().CanEditDepartment(r.DepartmentID) {
		return j, p, errs.Forbiddenf("only staff of the providing department may upload data for %s", r.Code)
	}
	limit := int64(s.app.Config.MaxUploadMB) << 20
	if c.Request().ContentLength > limit+1<<20 {
		return j, p, fmt.Errorf("%w: the upload is %d bytes, over the %d MiB limit", errs.TooLarge, c.Request().ContentLength, s.app.Config.MaxUploadMB)
	}
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, limit+1<<20)
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return j, p, errs.Invalidf("send the file as multipart/form-data with a field named \"file\"")
	}
	p = ingestParams{Lang: i18n.Lang(c.Request().Header.Get("Accept-Language"))}
	var tmp string
	defer func() {
		if tmp != "" {
			os.Remove(tmp)
		}
	}()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return j, p, fmt.Errorf("%w: the upload is over the %d MiB limit", errs.TooLarge, s.app.Config.MaxUploadMB)
			}
			return j, p, errs.Invalidf("malformed multipart body: %v", err)
		}
		switch part.FormName() {
		case "file":
			_, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
			name, err := CheckUploadName(params["filename"])
			if err != nil {
				return j, p, err
			}
			p.Name = name
			f, err := os.CreateTemp(s.app.Ingest.Limits.TempDir, "upload-*")
			if err != nil {
				return j, p, err
			}
			tmp = f.Name()
			n, err := io.Copy(f, io.LimitReader(part, limit+1))
			f.Close()
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return j, p, fmt.Errorf("%w: the upload is over the %d MiB limit", errs.TooLarge, s.app.Config.MaxUploadMB)
				}
				return j, p, errs.Invalidf("upload interrupted: %v", err)
			}
			if n > limit {
				return j, p, fmt.Errorf("%w: %s is over the %d MiB limit", errs.TooLarge, name, s.app.Config.MaxUploadMB)
			}
		case "format", "encoding", "sheet":
			b, _ := io.ReadAll(io.LimitReader(part, 256))
			v := strings.TrimSpace(string(b))
			switch part.FormName() {
			case "format":
				p.Format = v
			case "encoding":
				p.Encoding = v
			case "sheet":
				p.Sheet = v
			}
		}
	}
	if tmp == "" {
		return j, p, errs.FieldErrors{"file": "required"}
	}
	if p.Format == "" {
		p.Format = ingest.DetectFormat(p.Name)
	}
	if p.Format == "" {
		return j, p, errs.FieldErrors{"format": "cannot tell the format from the file name; send format=csv, xlsx, json or ndjson"}
	}
	p.UploadKey = "uploads/" + uuid.NewString() + "/source"
	f, err := os.Open(tmp)
	if err != nil {
		return j, p, err
	}
	st, _ := f.Stat()
	err = s.app.Blobs.Put(ctx, p.UploadKey, f, st.Size())
	f.Close()
	if err != nil {
		return j, p, err
	}
	j, err = s.app.Jobs.Enqueue(ctx, "ingest", r.ID, u.ID, p)
	if err != nil {
		s.app.Blobs.Delete(context.Background(), p.UploadKey)
		return j, p, err
	}
	s.runner.Wake()
	return j, p, nil
}

func jobView(j jobs.Job, lang string) map[string]any {
	v := map[string]any{
		"id": j.ID, "kind": j.Kind, "status": j.Status, "status_text": i18n.T(lang, "job."+j.Status, nil),
		"resource_id": j.ResourceID, "phase": j.Phase, "progress_rows": j.ProgressRows, "progress_bytes": j.ProgressBytes,
		"total_bytes": j.TotalBytes, "attempts": j.Attempts, "created_at": j.CreatedAt, "started_at": j.StartedAt, "finished_at": j.FinishedAt,
	}
	if j.TotalBytes > 0 {
		v["percent"] = min(100, 100*j.ProgressBytes/j.TotalBytes)
	}
	if msg := jobError(j, lang); msg != "" {
		v["error"] = msg
	}
	if j.ErrorCode != "" {
		v["error_code"] = j.ErrorCode
	}
	if len(j.Result) > 0 {
		v["result"] = j.Result
	}
	return v
}

// jobError is a failed job's message for people: the queue's own reasons
// in the reader's language, else what the handler recorded.
func jobError(j jobs.Job, lang string) string {
	if j.ErrorCode == "" {
		return i18n.Text(lang, j.Error) // jobErrorText's message key, or older plain text
	}
	text := i18n.T(lang, j.ErrorCode, j.ErrorParams)
	if f := j.ErrorParams["file"]; f != "" {
		text = f + ": " + text
	}
	return text
}

func (s *Server) jobFor(c echo.Context) (jobs.Job, auth.User, error) {
	u, err := staff(c)
	if err != nil {
		return jobs.Job{}, u, err
	}
	j, err := s.app.Jobs.Get(c.Request().Context(), c.Param("job"))
	if err != nil {
		return j, u, err
	}
	if j.ActorID != u.ID && !u.Actor().IsBureau() {
		r, err := s.app.Catalog.GetResource(c.Request().Context(), j.ResourceID)
		if err != nil && !errors.Is(err, errs.NotFound) {
			return j, u, err
		}
		if err != nil || !u.Actor().CanEditDepartment(r.DepartmentID) {
			return j, u, errs.NotFoundf("job %s", j.ID) // do not reveal other departments' jobs
		}
	}
	return j, u, nil
}

func (s *Server) getJob(c echo.Context) error {
	j, _, err := s.jobFor(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, jobView(j, i18n.Lang(c.Request().Header.Get("Accept-Language"))))
}

func (s *Server) cancelJob(c echo.Context) error {
	j, _, err := s.jobFor(c)
	if err != nil {
		return err
	}
	if err := s.app.Jobs.Cancel(c.Request().Context(), j.ID); err != nil {
		return err
	}
	j, _ = s.app.Jobs.Get(c.Request().Context(), j.ID)
	return c.JSON(http.StatusOK, jobView(j, i18n.Lang(c.Request().Header.Get("Accept-Language"))))
}

// runIngestJob is the worker side of an upload. The version becomes
// visible in the same transaction that records the job's success, and only
// while this worker still holds the job: a job taken back by the janitor
// and run elsewhere cannot also publish a version from here.
func (s *Server) runIngestJob(ctx context.Context, j jobs.Job, report func(string, int64, int64, int64)) (any, error) {
	var p ingestParams
	if err := json.Unmarshal(j.Params, &p); err != nil {
		return nil, err
	}
	defer s.app.Blobs.Delete(context.Background(), p.UploadKey)
	actor := auth.System
	if j.ActorID != 0 {
		u, err := s.app.Users.GetUser(ctx, j.ActorID)
		if err != nil {
			return nil, err
		}
		actor = u.Actor()
	}
	tmp, err := s.fetchUpload(ctx, p.UploadKey)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	out, err := s.app.Ingest.Ingest(ctx, actor, ingest.Request{
		ResourceID: j.ResourceID, Path: tmp, Name: p.Name, Format: p.Format, Encoding: p.Encoding, Sheet: p.Sheet, Lang: p.Lang,
		Progress: func(pr ingest.Progress) { report(pr.Phase, pr.Rows, pr.Bytes, pr.TotalBytes) },
		Commit: func(ctx context.Context, q db.Querier, out ingest.Outcome) error {
			// The version's objects are stored: the upload is no longer
			// needed, and goes before the job is seen as done.
			s.app.Blobs.Delete(ctx, p.UploadKey)
			return s.app.Jobs.FinishIn(ctx, q, j, jobs.Succeeded, out, "")
		},
	})
	if err != nil {
		key, params := ingest.Reason(err)
		re := &jobs.ResultError{Err: err, Reason: jobs.Reason{Text: ingest.ErrorText(p.Lang, err), Code: key, Params: params}}
		if out.Quality != nil {
			re.Result = out
		}
		s.app.Metrics.IngestJobs.WithLabelValues(jobs.Failed).Inc()
		return nil, re
	}
	s.app.Metrics.IngestJobs.WithLabelValues(jobs.Succeeded).Inc()
	s.app.Metrics.IngestRows.Add(float64(out.RowsStored))
	if fi, err := os.Stat(tmp); err == nil {
		s.app.Metrics.IngestBytes.Add(float64(fi.Size()))
	}
	return out, nil
}

// abandonIngest removes what a job given up by the janitor left: its upload.
func (s *Server) abandonIngest(ctx context.Context, j jobs.Job) {
	var p ingestParams
	if json.Unmarshal(j.Params, &p) == nil && p.UploadKey != "" {
		if err := s.app.Blobs.Delete(ctx, p.UploadKey); err != nil {
			s.log.Warn("remove the upload of an abandoned job", "job", j.ID, "err", err)
		}
	}
}

func (s *Server) fetchUpload(ctx context.Context, key string) (string, error) {
	rc, _, err := s.app.Blobs.Get(ctx, key)
	if errors.Is(err, errs.NotFound) {
		return "", &ingest.Problem{Code: "upload_gone", Kind: errs.Invalid}
	}
	if err != nil {
		return "", fmt.Errorf("upload %s: %w", key, err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(s.app.Ingest.Limits.TempDir, "job-*"+filepath.Ext(key))
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), f.Close()
}

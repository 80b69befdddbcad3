package server

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/labstack/echo/v4"

	"opendata/auth"
	"opendata/config"
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
			return "", errs.FieldErrors{"file": i18n.Msg("err.field.file_name", "name", name)}
		}
		for _, r := range s {
			if r < 0x20 || r == 0x7f {
				return "", errs.FieldErrors{"file": "err.field.file_control"}
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

// startUpload parses the multipart upload, spooling the file to a
// temporary file, and hands it to the uploads service.
func (s *Server) startUpload(c echo.Context) (j jobs.Job, lang string, err error) {
	u, id, err := withID(c, staff)
	if err != nil {
		return j, "", err
	}
	ctx := c.Request().Context()
	r, err := s.app.Catalog.GetResource(ctx, id)
	if err != nil {
		return j, "", err
	}
	if err := ingest.CanUpload(u.Actor(), r); err != nil { // before the body is read
		return j, "", err
	}
	p := ingest.Upload{Lang: apiLang(c)}
	limit := int64(s.app.Config.MaxUploadMB) << 20
	if c.Request().ContentLength > limit+1<<20 {
		return j, p.Lang, errs.TooLargef("err.upload.too_large_size", "bytes", c.Request().ContentLength, "mb", s.app.Config.MaxUploadMB)
	}
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, limit+1<<20)
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return j, p.Lang, errs.Invalidf("err.upload.multipart")
	}
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
				return j, p.Lang, errs.TooLargef("err.upload.too_large", "mb", s.app.Config.MaxUploadMB)
			}
			return j, p.Lang, errs.Invalidf("err.upload.malformed")
		}
		switch part.FormName() {
		case "file":
			_, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
			name, err := CheckUploadName(params["filename"])
			if err != nil {
				return j, p.Lang, err
			}
			p.Name = name
			f, err := os.CreateTemp(s.app.Ingest.Limits.TempDir, "upload-*")
			if err != nil {
				return j, p.Lang, err
			}
			tmp = f.Name()
			n, err := io.Copy(f, io.LimitReader(part, limit+1))
			f.Close()
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return j, p.Lang, errs.TooLargef("err.upload.too_large", "mb", s.app.Config.MaxUploadMB)
				}
				return j, p.Lang, errs.Invalidf("err.upload.interrupted")
			}
			if n > limit {
				return j, p.Lang, errs.TooLargef("err.upload.file_too_large", "file", name, "mb", s.app.Config.MaxUploadMB)
			}
		case "format", "encoding", "sheet", "max_reject_ratio":
			b, _ := io.ReadAll(io.LimitReader(part, 256))
			v := strings.TrimSpace(string(b))
			switch part.FormName() {
			case "max_reject_ratio":
				if v == "" {
					break // the form's empty field: the configured share
				}
				f, err := config.ParseRatio(v)
				if err != nil {
					return j, p.Lang, errs.FieldErrors{"max_reject_ratio": "ingest.invalid.max_reject_ratio"}
				}
				p.MaxRejectRatio = &f
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
		return j, p.Lang, errs.FieldErrors{"file": "entry.invalid.required"}
	}
	j, err = s.uploads.Start(ctx, u, r, tmp, p)
	return j, p.Lang, err
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
	j, err := s.uploads.JobFor(c.Request().Context(), u.Actor(), u.ID, c.Param("job"))
	return j, u, err
}

func (s *Server) getJob(c echo.Context) error {
	j, _, err := s.jobFor(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, jobView(j, apiLang(c)))
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
	return c.JSON(http.StatusOK, jobView(j, apiLang(c)))
}

// ingestDone counts a finished ingest job in the metrics.
func (s *Server) ingestDone(err error, rows, bytes int64) {
	if err != nil {
		s.app.Metrics.IngestJobs.WithLabelValues(jobs.Failed).Inc()
		return
	}
	s.app.Metrics.IngestJobs.WithLabelValues(jobs.Succeeded).Inc()
	s.app.Metrics.IngestRows.Add(float64(rows))
	s.app.Metrics.IngestBytes.Add(float64(bytes))
}

package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/uuid"

	"opendata/auth"
	"opendata/catalog"
	"opendata/db"
	"opendata/errs"
	"opendata/jobs"
)

// JobKind is the kind of the job that ingests an upload.
const JobKind = "ingest"

// Upload is a received file and how to read it; it is stored with the
// job (the JSON names are the queue's record of older jobs too).
type Upload struct {
	UploadKey string `json:"upload_key"`
	Name      string `json:"name"`
	Format    string `json:"format,omitempty"`
	Encoding  string `json:"encoding,omitempty"`
	Sheet     string `json:"sheet,omitempty"`
	Lang      string `json:"lang"`
	// MaxRejectRatio overrides max_reject_ratio for this upload.
	MaxRejectRatio *float64 `json:"max_reject_ratio,omitempty"`
}

// Uploads takes received files into the object store and the job queue,
// and is the worker side that ingests them: the service spanning the
// object store, the queue and the version's transaction.
type Uploads struct {
	Ingest *Service
	Jobs   *jobs.Queue
	Users  *auth.Store
	// Wake, when set, tells the local workers a job waits.
	Wake func()
	// Done, when set, is told how each ingest job ended: its error, or
	// the rows stored and the file's bytes (the metrics count them).
	Done func(err error, rows, bytes int64)
}

// CanUpload is the rule: only staff of the providing department (or the
// bureau) add data to a resource.
func CanUpload(a auth.Actor, r catalog.Resource) error {
	if !a.CanEditDepartment(r.DepartmentID) {
		return errs.Forbiddenf("err.upload.own_dept", "code", r.Code)
	}
	return nil
}

// Start stores the local file at path (which the caller removes) as the
// upload of u into resource r and queues its ingest job. A job that cannot
// be queued leaves no stored upload.
func (s *Uploads) Start(ctx context.Context, by auth.User, r catalog.Resource, path string, u Upload) (jobs.Job, error) {
	if err := CanUpload(by.Actor(), r); err != nil {
		return jobs.Job{}, err
	}
	if u.Format == "" {
		u.Format = DetectFormat(u.Name)
	}
	if u.Format == "" {
		return jobs.Job{}, errs.FieldErrors{"format": "err.field.format_unknown"}
	}
	u.UploadKey = "uploads/" + uuid.NewString() + "/source"
	f, err := os.Open(path)
	if err != nil {
		return jobs.Job{}, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return jobs.Job{}, err
	}
	err = s.Ingest.Blobs.Put(ctx, u.UploadKey, f, st.Size())
	f.Close()
	if err != nil {
		return jobs.Job{}, err
	}
	j, err := s.Jobs.Enqueue(ctx, JobKind, r.ID, by.ID, u)
	if err != nil {
		s.Ingest.Blobs.Delete(context.Background(), u.UploadKey)
		return j, err
	}
	if s.Wake != nil {
		s.Wake()
	}
	return j, nil
}

// JobFor is an upload job as a staff member may see it: their own, their
// department's or, for the bureau, any. Another department's job is not
// found (its existence is not revealed).
func (s *Uploads) JobFor(ctx context.Context, a auth.Actor, userID int64, id string) (jobs.Job, error) {
	j, err := s.Jobs.Get(ctx, id)
	if err != nil {
		return j, err
	}
	if j.ActorID == userID || a.IsBureau() {
		return j, nil
	}
	r, err := s.Ingest.Catalog.GetResource(ctx, j.ResourceID)
	if err != nil && !errors.Is(err, errs.NotFound) {
		return j, err
	}
	if err != nil || !a.CanEditDepartment(r.DepartmentID) {
		return j, errs.NotFoundf("err.job_not_found", "id", j.ID)
	}
	return j, nil
}

// Run is the job handler of an upload. The version becomes visible in the
// same transaction that records the job's success, and only while this
// worker still holds the job: a job taken back by the janitor and run
// elsewhere cannot also publish a version from here.
func (s *Uploads) Run(ctx context.Context, j jobs.Job, report func(string, int64, int64, int64)) (any, error) {
	var u Upload
	if err := json.Unmarshal(j.Params, &u); err != nil {
		return nil, err
	}
	defer s.Ingest.Blobs.Delete(context.Background(), u.UploadKey)
	actor := auth.System
	if j.ActorID != 0 {
		usr, err := s.Users.GetUser(ctx, j.ActorID)
		if err != nil {
			return nil, err
		}
		actor = usr.Actor()
	}
	tmp, err := s.fetch(ctx, u.UploadKey)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	out, err := s.Ingest.Ingest(ctx, actor, Request{
		ResourceID: j.ResourceID, Path: tmp, Name: u.Name, Format: u.Format, Encoding: u.Encoding, Sheet: u.Sheet, Lang: u.Lang, MaxRejectRatio: u.MaxRejectRatio,
		Progress: func(pr Progress) { report(pr.Phase, pr.Rows, pr.Bytes, pr.TotalBytes) },
		Commit: func(ctx context.Context, q db.Querier, out Outcome) error {
			// The version's objects are stored: the upload is no longer
			// needed, and goes before the job is seen as done.
			s.Ingest.Blobs.Delete(ctx, u.UploadKey)
			return s.Jobs.FinishIn(ctx, q, j, jobs.Succeeded, out, "")
		},
	})
	if err != nil {
		key, params := Reason(err)
		re := &jobs.ResultError{Err: err, Reason: jobs.Reason{Text: ErrorText(u.Lang, err), Code: key, Params: params}}
		if out.Quality != nil {
			re.Result = out
		}
		s.done(re, 0, 0)
		return nil, re
	}
	var size int64
	if fi, err := os.Stat(tmp); err == nil {
		size = fi.Size()
	}
	s.done(nil, out.RowsStored, size)
	return out, nil
}

func (s *Uploads) done(err error, rows, bytes int64) {
	if s.Done != nil {
		s.Done(err, rows, bytes)
	}
}

// Abandon removes what a job given up by the janitor left: its upload.
func (s *Uploads) Abandon(ctx context.Context, j jobs.Job) error {
	var u Upload
	if json.Unmarshal(j.Params, &u) != nil || u.UploadKey == "" {
		return nil
	}
	return s.Ingest.Blobs.Delete(ctx, u.UploadKey)
}

// fetch copies a stored upload to a local temporary file.
func (s *Uploads) fetch(ctx context.Context, key string) (string, error) {
	rc, _, err := s.Ingest.Blobs.Get(ctx, key)
	if errors.Is(err, errs.NotFound) {
		return "", &Problem{Code: "upload_gone", Kind: errs.Invalid}
	}
	if err != nil {
		return "", fmt.Errorf("upload %s: %w", key, err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(s.Ingest.Limits.TempDir, "job-*"+filepath.Ext(key))
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

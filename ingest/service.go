package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"opendata/audit"
	"opendata/auth"
	"opendata/blob"
	"opendata/catalog"
	"opendata/db"
	"opendata/errs"
	"opendata/i18n"
)

// Service owns an ingest end to end: it converts the file, writes the
// version's objects and commits the version row, so that a version appears
// only when all of it exists, and a failure leaves neither objects nor row.
type Service struct {
	Catalog *catalog.Store
	Blobs   blob.Store
	Limits  Limits
	Log     *slog.Logger
	Audit   *audit.Log
}

// Limits come from the configuration.
type Limits struct {
	TempDir          string
	MaxFileBytes     int64
	MaxFieldBytes    int
	MaxColumns       int
	MaxHeaderBytes   int
	MaxUnzipBytes    int64
	DedupMemoryBytes int64
	Location         *time.Location
	// MaxRejectRatio is max_reject_ratio: the largest share of a file's
	// rows that may be rejected (CheckRejectRatio).
	MaxRejectRatio float64
	// NullMarkers is null_markers (nil: DefaultNullMarkers).
	NullMarkers []string
}

// Request is one file to ingest into a resource.
type Request struct {
	ResourceID int64
	Path       string // local file
	Name       string // original file name (for format detection and messages)
	Format     string
	Encoding   string
	Sheet      string
	Lang       string
	// MaxRejectRatio overrides Limits.MaxRejectRatio for this file.
	MaxRejectRatio *float64
	Progress       func(Progress)
	// Commit, when set, runs in the transaction that makes the version
	// visible, with the outcome as it will be returned: an error (such as
	// the job that runs this ingest no longer being held by its worker)
	// leaves nothing visible and the objects removed.
	Commit func(ctx context.Context, q db.Querier, out Outcome) error
}

// Outcome is what an ingest reports (also `opendata ingest --json`).
type Outcome struct {
	ResourceID   int64        `json:"resource_id"`
	Version      int          `json:"version"`
	Prefix       string       `json:"prefix,omitempty"`
	Format       string       `json:"format"`
	Encoding     string       `json:"encoding,omitempty"`
	RowsStored   int64        `json:"rows_stored"`
	RowsRejected int64        `json:"rows_rejected"`
	Rejected     []Message    `json:"rejected"`
	Columns      []Column     `json:"columns"`
	Masked       []string     `json:"masked"`
	Dropped      []string     `json:"dropped"`
	Warnings     []Message    `json:"warnings"`
	Sheet        *SheetChoice `json:"sheet,omitempty"`
	// UsageNoteDraft is a note sheet's text, offered for the entry's usage note.
	UsageNoteDraft string           `json:"usage_note_draft,omitempty"`
	Objects        []catalog.Object `json:"objects,omitempty"`
	Quality        *Report          `json:"quality"`
}

// Message is a row problem with its text in the user's language.
type Message struct {
	RowError
	Message string `json:"message"`
}

// Describe renders a row problem through the message catalog.
func Describe(lang string, e RowError) string {
	return i18n.T(lang, "ingest."+e.Code, describeKinds(lang, describeParams(e)))
}

func describeParams(e RowError) map[string]string {
	p := map[string]string{"row": strconv.FormatInt(e.Row, 10), "column": e.Column, "value": e.Value}
	for k, v := range e.Params {
		p[k] = v
	}
	return p
}

// describeKinds names a detected kind of personal data in lang.
func describeKinds(lang string, p map[string]string) map[string]string {
	if k, ok := p["kind"]; ok {
		p["kind"] = i18n.T(lang, "ingest.kind."+k, nil)
	}
	return p
}

func messages(lang string, list []RowError) []Message {
	out := make([]Message, 0, len(list))
	for _, e := range list {
		out = append(out, Message{RowError: e, Message: Describe(lang, e)})
	}
	return out
}

func outcome(res *Result, lang string) Outcome {
	o := Outcome{Format: res.Format, Encoding: res.Encoding, Columns: res.Columns, Masked: []string{}, Dropped: []string{}}
	if o.Sheet = res.Sheet; o.Sheet != nil {
		o.UsageNoteDraft = o.Sheet.UsageNoteDraft
	}
	rep := res.Report
	o.Quality = &rep
	o.RowsStored, o.RowsRejected = rep.RowsStored, rep.RowsRejected
	o.Rejected, o.Warnings = messages(lang, rep.Rejected), messages(lang, rep.Warnings)
	for _, c := range res.Columns {
		switch c.Open {
		case catalog.TreatMasked:
			o.Masked = append(o.Masked, c.Name)
		case catalog.TreatDropped:
			o.Dropped = append(o.Dropped, c.Name)
		}
	}
	return o
}

// objectOrder is the write order; quality.json last.
var objectOrder = []string{"full.parquet", "open.parquet", "open.csv", "schema.json", "quality.json"}

// Ingest converts req.Path and publishes it as the resource's next version.
// When every row is rejected it returns the Outcome (with the reasons) and
// ErrNoStorableRow, and when more than the allowed share is, the Outcome
// and the reject_ratio Problem; nothing is stored.
func (s *Service) Ingest(ctx context.Context, actor auth.Actor, req Request) (out Outcome, err error) {
	r, err := s.Catalog.GetResource(ctx, req.ResourceID)
	if err != nil {
		return out, err
	}
	if !actor.CanEditDepartment(r.DepartmentID) {
		return out, errs.Forbiddenf("err.upload.own_dept", "code", r.Code)
	}
	if err := s.checkSize(req); err != nil {
		return out, err
	}
	res, err := s.convert(ctx, r, req)
	if res != nil {
		defer res.Cleanup()
		out = outcome(res, req.Lang)
	}
	out.ResourceID = r.ID
	if err != nil {
		return out, err
	}
	v, err := s.Catalog.ReserveVersion(ctx, actor, r.ID, req.Name, res.Format)
	if err != nil {
		return out, err
	}
	committed := false
	defer func() {
		if !committed {
			s.abandon(v)
		}
	}()
	if err := s.storeObjects(ctx, &v, res, req); err != nil {
		return out, err
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	out.Version, out.Prefix, out.Objects = v.Number, v.Prefix(), v.Objects
	if err := s.commit(ctx, actor, r, v, req, out); err != nil {
		out.Version, out.Prefix, out.Objects = 0, "", nil
		return out, err
	}
	committed = true
	s.log().Info("version ingested", "resource", r.Code, "version", v.Number, "rows", v.RowsStored, "rejected", v.RowsRejected)
	return out, nil
}

// checkSize refuses a file over max_file_mb before it is read.
func (s *Service) checkSize(req Request) error {
	if st, err := os.Stat(req.Path); err != nil {
		return err
	} else if s.Limits.MaxFileBytes > 0 && st.Size() > s.Limits.MaxFileBytes {
		return &FileError{File: req.Name, Err: fmt.Errorf("%w: %d bytes, over the %d MiB limit", ErrTooLarge, st.Size(), s.Limits.MaxFileBytes>>20)}
	}
	return nil
}

// convert converts the file with the configuration's limits and the
// resource's data items and key.
func (s *Service) convert(ctx context.Context, r catalog.Resource, req Request) (*Result, error) {
	ratio := s.Limits.MaxRejectRatio
	if req.MaxRejectRatio != nil {
		ratio = *req.MaxRejectRatio
	}
	return Convert(ctx, req.Path, Options{MaxRejectRatio: &ratio, NullMarkers: s.Limits.NullMarkers,
		Format: req.Format, Encoding: req.Encoding, Sheet: req.Sheet, Name: req.Name,
		MaxFieldBytes: s.Limits.MaxFieldBytes, MaxColumns: s.Limits.MaxColumns, MaxHeaderBytes: s.Limits.MaxHeaderBytes, MaxUnzipBytes: s.Limits.MaxUnzipBytes, DedupMemoryBytes: s.Limits.DedupMemoryBytes,
		TempDir: s.Limits.TempDir, Location: s.Limits.Location, Items: r.Items, KeyColumns: r.KeyColumns, Progress: req.Progress,
	})
}

// storeObjects writes the conversion's files under the version's prefix
// (in objectOrder) and fills in the version's objects, counts and columns.
func (s *Service) storeObjects(ctx context.Context, v *catalog.Version, res *Result, req Request) error {
	prefix := v.Prefix()
	for _, name := range objectOrder {
		if err := ctx.Err(); err != nil {
			return err
		}
		if req.Progress != nil {
			req.Progress(Progress{Phase: "upload:" + name, Rows: res.Report.RowsRead})
		}
		key := prefix + name
		size, err := putFile(ctx, s.Blobs, key, res.Files[name])
		if err != nil {
			return fmt.Errorf("store %s: %w", key, err)
		}
		v.Objects = append(v.Objects, catalog.Object{Name: name, Key: key, Size: size})
	}
	v.RowsStored, v.RowsRejected, v.QualityScore, v.SourceEncoding = res.Report.RowsStored, res.Report.RowsRejected, res.Report.Score, res.Encoding
	for _, c := range res.Columns {
		v.Columns = append(v.Columns, catalog.VersionColumn{Name: c.Name, Type: c.Type, Description: c.Description, Personal: c.Personal, Open: c.Open})
	}
	return nil
}

// commit makes the version ready. The audit is part of the act: the
// version becomes ready in the same transaction that records it (and runs
// req.Commit), or not at all.
func (s *Service) commit(ctx context.Context, actor auth.Actor, r catalog.Resource, v catalog.Version, req Request, out Outcome) error {
	also := func(q db.Querier) error {
		if s.Audit != nil {
			if _, err := s.Audit.AppendTx(ctx, q, audit.Event{ActorID: actor.ID, ActorName: actor.Name, DepartmentID: actor.DepartmentID,
				Action: "version.ingested", ResourceID: r.ID, Version: v.Number, Detail: fmt.Sprintf("%s: %d rows stored, %d rejected", req.Name, v.RowsStored, v.RowsRejected)}); err != nil {
				return fmt.Errorf("audit the ingest: %w", err)
			}
		}
		if req.Commit != nil {
			return req.Commit(ctx, q, out)
		}
		return nil
	}
	return s.Catalog.CommitVersionWith(ctx, v, also)
}

// abandon removes an uncommitted version's objects and its pending row,
// with a fresh context: the request's may be the one cancelled. When the
// objects cannot all go, the row stays so that the janitor retries.
func (s *Service) abandon(v catalog.Version) {
	prefix := v.Prefix()
	cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if derr := blob.DeletePrefix(cctx, s.Blobs, prefix); derr != nil {
		s.log().Error("ingest cleanup: objects left behind", "prefix", prefix, "err", derr)
		return // keep the pending row so the janitor retries
	}
	if derr := s.Catalog.AbortVersion(cctx, v.ID); derr != nil {
		s.log().Error("ingest cleanup: pending version row left", "version", v.ID, "err", derr)
	}
}

func putFile(ctx context.Context, b blob.Store, key, path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), b.Put(ctx, key, f, st.Size())
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

// CleanStale removes versions left pending by a crash (objects, then row).
func (s *Service) CleanStale(ctx context.Context, olderThan time.Duration) (int, error) {
	stale, err := s.Catalog.StalePending(ctx, time.Now().Add(-olderThan))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, v := range stale {
		if err := blob.DeletePrefix(ctx, s.Blobs, v.Prefix()); err != nil {
			return n, err
		}
		if err := s.Catalog.AbortVersion(ctx, v.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// IsNoStorableRow reports whether err means every row was rejected.
func IsNoStorableRow(err error) bool { return errors.Is(err, ErrNoStorableRow) }

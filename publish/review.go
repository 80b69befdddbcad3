package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"opendata/audit"
	"opendata/auth"
	"opendata/blob"
	"opendata/catalog"
	"opendata/errs"
	"opendata/ingest"
	"opendata/query"
)

// Reviewer gathers what an approver decides on: a version's quality
// report, its first rows and its comparison with the published version.
// Versions never change, so what it reads is kept (reports, diffs).
type Reviewer struct {
	Service *Service
	Blobs   blob.Store
	Engine  *query.Engine
	Audit   *audit.Log

	mu      sync.Mutex
	reports map[string]*ingest.Report
	diffs   map[string]*query.RowDiff
}

// Variants of a version a reviewer looks at.
const (
	VariantOpen = "open" // what the public will get (personal data masked or dropped)
	VariantFull = "full" // every column as ingested: internal, audited
)

// PreviewRows is how many rows the review shows.
const PreviewRows = 20

// Preview is the first rows of one variant.
type Preview struct {
	Variant string
	Columns []string
	Rows    [][]*string
}

// Review is the version page's content.
type Review struct {
	Resource catalog.Resource
	Version  catalog.Version
	State    string
	Events   []Event // this version's steps
	// SeesData: the reader sees the report, the rows and the comparison
	// (catalog.QualityVisibleTo); the rest stays nil without it.
	SeesData   bool
	Report     *ingest.Report
	Preview    *Preview
	Comparison *Comparison
	// Problems are message keys of what could not be shown.
	Problems []string
}

// Report reads a version's quality report (kept once read).
func (rv *Reviewer) Report(ctx context.Context, v catalog.Version) (*ingest.Report, error) {
	key := v.Prefix() + "quality.json"
	rv.mu.Lock()
	r, ok := rv.reports[key]
	rv.mu.Unlock()
	if ok {
		return r, nil
	}
	rc, _, err := rv.Blobs.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	r = &ingest.Report{}
	if err := json.NewDecoder(rc).Decode(r); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	rv.mu.Lock()
	if rv.reports == nil || len(rv.reports) > 512 {
		rv.reports = map[string]*ingest.Report{}
	}
	rv.reports[key] = r
	rv.mu.Unlock()
	return r, nil
}

// Load gathers the review of version n of resource rid for actor. The
// full variant's rows are shown only when asked for (variant full) and
// only after the read is in the audit log.
func (rv *Reviewer) Load(ctx context.Context, actor auth.Actor, rid int64, n int, variant string) (Review, error) {
	cat := rv.Service.Catalog
	r, err := cat.GetResource(ctx, rid)
	if err != nil {
		return Review{}, err
	}
	v, err := cat.GetVersion(ctx, rid, n)
	if err != nil {
		return Review{}, err
	}
	states, err := rv.Service.VersionStates(ctx, rid)
	if err != nil {
		return Review{}, err
	}
	events, err := rv.Service.Events(ctx, rid)
	if err != nil {
		return Review{}, err
	}
	out := Review{Resource: r, Version: v, State: states[n], SeesData: catalog.QualityVisibleTo(actor, r)}
	for _, e := range events {
		if e.Version == n {
			out.Events = append(out.Events, e)
		}
	}
	if !out.SeesData {
		return out, nil
	}
	if out.Report, err = rv.Report(ctx, v); err != nil {
		rv.logf("quality report", rid, n, err)
		out.Problems = append(out.Problems, "review.problem.report")
	}
	if variant != VariantFull {
		variant = VariantOpen
	}
	if variant == VariantFull {
		if rv.Audit == nil {
			return Review{}, errs.Unavailable
		}
		// The audit is part of the act: no entry, no rows.
		if _, err := rv.Audit.Append(ctx, audit.Event{ActorID: actor.ID, ActorName: actor.Name, DepartmentID: actor.DepartmentID,
			Action: "publication.preview_full", ResourceID: rid, Version: n, Detail: fmt.Sprintf("first %d rows of the full variant, for review", PreviewRows)}); err != nil {
			return Review{}, fmt.Errorf("audit the preview: %w", err)
		}
	}
	if o, ok := v.Object(variant + ".parquet"); ok {
		schema, rows, err := rv.Engine.Head(ctx, o.Key, PreviewRows)
		if err != nil {
			rv.logf("preview", rid, n, err)
			out.Problems = append(out.Problems, "review.problem.preview")
		} else {
			p := &Preview{Variant: variant, Rows: rows}
			for _, c := range schema {
				p.Columns = append(p.Columns, c.Name)
			}
			out.Preview = p
		}
	}
	versions, err := cat.ListVersions(ctx, rid)
	if err != nil {
		return Review{}, err
	}
	base, published := BaseFor(r, n, versions)
	if base == 0 {
		return out, nil
	}
	bv, err := cat.GetVersion(ctx, rid, base)
	if err != nil {
		return Review{}, err
	}
	baseSide, draftSide := Side{Version: bv}, Side{Version: v, Report: out.Report}
	if baseSide.Report, err = rv.Report(ctx, bv); err != nil {
		rv.logf("quality report of the base", rid, base, err)
	}
	rows, problem := rv.diff(ctx, bv, v, r.KeyColumns)
	c := Compare(baseSide, draftSide, rows)
	c.BasePublished, c.RowsProblem = published, problem
	out.Comparison = &c
	return out, nil
}

// diff compares the full variants (a masked value hides a change); the
// result is kept, the versions being immutable.
func (rv *Reviewer) diff(ctx context.Context, base, draft catalog.Version, keys []string) (*query.RowDiff, string) {
	bo, ok1 := base.Object(VariantFull + ".parquet")
	do, ok2 := draft.Object(VariantFull + ".parquet")
	if !ok1 || !ok2 {
		return nil, "review.problem.no_rows"
	}
	id := fmt.Sprintf("%s|%s|%q", bo.Key, do.Key, keys)
	rv.mu.Lock()
	d, ok := rv.diffs[id]
	rv.mu.Unlock()
	if ok {
		return d, ""
	}
	got, err := rv.Engine.Diff(ctx, bo.Key, do.Key, keys)
	if err != nil {
		rv.logf("row comparison", draft.ResourceID, draft.Number, err)
		if errors.Is(err, errs.Unavailable) || errors.Is(err, context.DeadlineExceeded) {
			return nil, "review.problem.diff_slow"
		}
		return nil, "review.problem.diff"
	}
	rv.mu.Lock()
	if rv.diffs == nil || len(rv.diffs) > 256 {
		rv.diffs = map[string]*query.RowDiff{}
	}
	rv.diffs[id] = &got
	rv.mu.Unlock()
	return &got, ""
}

func (rv *Reviewer) logf(what string, rid int64, n int, err error) {
	if rv.Service != nil && rv.Service.Log != nil {
		rv.Service.Log.Warn("review: "+what, "resource", rid, "version", n, "err", err)
	}
}

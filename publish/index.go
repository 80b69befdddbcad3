package publish

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"opendata/catalog"
	"opendata/errs"
	"opendata/search"
)

// Document builds the search document of a public resource.
func (s *Service) Document(ctx context.Context, r catalog.Resource) (search.Doc, error) {
	d, err := s.Catalog.GetDepartment(ctx, r.DepartmentID)
	if err != nil {
		return search.Doc{}, err
	}
	v, err := s.Catalog.GetVersion(ctx, r.ID, r.PublishedVersion)
	if err != nil {
		return search.Doc{}, err
	}
	views, downloads, err := s.Totals(ctx, r.ID)
	if err != nil {
		return search.Doc{}, err
	}
	items := make([]string, 0, len(r.Items)*2)
	for _, it := range r.Items {
		items = append(items, it.Name)
		if it.Description != "" {
			items = append(items, it.Description)
		}
	}
	published := v.CreatedAt
	if r.PublishedAt != nil {
		published = *r.PublishedAt
	}
	formats := []string{}
	if r.OpenType.Public() {
		formats = []string{"csv", "parquet"}
	}
	return search.Doc{
		ID: strconv.FormatInt(r.ID, 10), Code: r.Code, Title: r.Name, TitleEn: r.NameEn, Summary: r.Summary, Keywords: r.Keywords,
		Items: items, DepartmentName: d.Name, DepartmentEn: d.NameEn, Department: d.Code, Domain: r.Domain, Format: formats, OpenType: string(r.OpenType),
		UpdatePeriod: r.UpdatePeriod, Published: published, Updated: v.CreatedAt, Downloads: downloads, Views: views, Rows: v.RowsStored,
	}, nil
}

// Reindex records that the resource changed in the search change log, so
// every instance's index follows (publication, edit, withdrawal), and
// applies it to this instance's index at once, so the person who made the
// change sees it in the next search.
func (s *Service) Reindex(ctx context.Context, rid int64) error {
	if _, err := RecordChange(ctx, s.DB, ChangeResource, rid); err != nil {
		return err
	}
	return s.ApplyResource(ctx, rid)
}

// RequestRebuild asks every instance to rebuild its index from the
// database (`opendata reindex` while the server holds the index).
func (s *Service) RequestRebuild(ctx context.Context) (int64, error) {
	return RecordChange(ctx, s.DB, ChangeRebuild, 0)
}

// ApplyResource brings this instance's index in line with the resource:
// indexed when public, removed otherwise. Without an index (a command-line
// process beside the server) there is nothing to do: the change log
// carries the change to the server.
func (s *Service) ApplyResource(ctx context.Context, rid int64) error {
	if s.Index == nil {
		return nil
	}
	return s.applyResource(ctx, rid)
}

func (s *Service) applyResource(ctx context.Context, rid int64) error {
	r, err := s.Catalog.GetResource(ctx, rid)
	if errors.Is(err, errs.NotFound) {
		return s.Index.Delete(ctx, idString(rid))
	}
	if err != nil {
		return err
	}
	if !r.IsPublic(s.Now.Now()) {
		return s.Index.Delete(ctx, idString(rid))
	}
	d, err := s.Document(ctx, r)
	if err != nil {
		return err
	}
	return s.Index.Index(ctx, d)
}

// ReindexAll rebuilds the index from the database (`opendata reindex`).
func (s *Service) ReindexAll(ctx context.Context, progress func(done, total int)) (int, error) {
	var all []catalog.Resource
	for offset := 0; ; offset += 1000 {
		page, _, err := s.Catalog.ListResources(ctx, catalog.Filter{Limit: 1000, Offset: offset})
		if err != nil {
			return 0, err
		}
		all = append(all, page...)
		if len(page) < 1000 {
			break
		}
	}
	var docs []search.Doc
	var gone []string
	now := s.Now.Now()
	for i, r := range all {
		if r.IsPublic(now) {
			d, err := s.Document(ctx, r)
			if err != nil {
				return 0, fmt.Errorf("resource %s: %w", r.Code, err)
			}
			docs = append(docs, d)
		} else {
			gone = append(gone, strconv.FormatInt(r.ID, 10))
		}
		if progress != nil && (i%500 == 0 || i == len(all)-1) {
			progress(i+1, len(all))
		}
	}
	for i := 0; i < len(docs); i += 1000 {
		if err := s.Index.Index(ctx, docs[i:min(i+1000, len(docs))]...); err != nil {
			return 0, err
		}
	}
	if len(gone) > 0 {
		if err := s.Index.Delete(ctx, gone...); err != nil {
			return 0, err
		}
	}
	// After a bulk load, an embedded index merges its segments.
	if o, ok := s.Index.(interface{ Optimize(context.Context) error }); ok {
		if err := o.Optimize(ctx); err != nil {
			return len(docs), err
		}
	}
	return len(docs), nil
}

// RefreshCounts records that a public resource's usage counts changed
// (every instance's "most used" order follows) and updates this instance's
// document. Its facet values are unchanged, so a backend that caches facet
// counts may keep them.
func (s *Service) RefreshCounts(ctx context.Context, rid int64) error {
	if _, err := RecordChange(ctx, s.DB, ChangeCounts, rid); err != nil {
		return err
	}
	if s.Index == nil {
		return nil
	}
	return s.applyCounts(ctx, rid)
}

func (s *Service) applyCounts(ctx context.Context, rid int64) error {
	r, err := s.Catalog.GetResource(ctx, rid)
	if err != nil || !r.IsPublic(s.Now.Now()) {
		return s.applyResource(ctx, rid)
	}
	d, err := s.Document(ctx, r)
	if err != nil {
		return err
	}
	if same, ok := s.Index.(interface {
		IndexSameFacets(context.Context, ...search.Doc) error
	}); ok {
		return same.IndexSameFacets(ctx, d)
	}
	return s.Index.Index(ctx, d)
}

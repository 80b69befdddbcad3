package publish

import (
	"context"
	"fmt"
	"strconv"

	"opendata/catalog"
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
	if r.OpenType == "unconditional" {
		formats = []string{"csv", "parquet"}
	}
	return search.Doc{
		ID: strconv.FormatInt(r.ID, 10), Code: r.Code, Title: r.Name, TitleEn: r.NameEn, Summary: r.Summary, Keywords: r.Keywords,
		Items: items, DepartmentName: d.Name, Department: d.Code, Domain: r.Domain, Format: formats, OpenType: r.OpenType,
		UpdatePeriod: r.UpdatePeriod, Published: published, Downloads: downloads, Views: views, Rows: v.RowsStored,
	}, nil
}

// Reindex brings the index in line with the resource: indexed when public,
// removed otherwise.
func (s *Service) Reindex(ctx context.Context, rid int64) error {
	if s.Index == nil {
		return nil
	}
	r, err := s.Catalog.GetResource(ctx, rid)
	if err != nil {
		return err
	}
	if !r.IsPublic(s.now()) {
		return s.Index.Delete(ctx, strconv.FormatInt(rid, 10))
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
	now := s.now()
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

// RefreshCounts updates a public resource's search document after its
// usage counts changed. Its facet values are unchanged, so a backend that
// caches facet counts may keep them.
func (s *Service) RefreshCounts(ctx context.Context, rid int64) error {
	r, err := s.Catalog.GetResource(ctx, rid)
	if err != nil {
		return err
	}
	if !r.IsPublic(s.now()) {
		return s.Reindex(ctx, rid)
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

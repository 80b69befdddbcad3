package publish

import (
	"context"
	"errors"
	"time"

	"opendata/catalog"
	"opendata/errs"
	"opendata/search"
)

// Search is the public catalog search. When the search backend fails it
// lists from the database instead (the text matched plainly, no facets) and
// reports degraded, so a page still shows the catalog and says it is
// degraded; a query the backend refuses as invalid stays an error.
func (s *Service) Search(ctx context.Context, q search.Query) (res search.Result, degraded bool, err error) {
	if s.Searcher != nil {
		res, err = s.Searcher(ctx, q)
	} else {
		res, err = s.Index.Search(ctx, q)
	}
	if err == nil {
		if IsMiss(q, res) && s.Missed != nil {
			s.Missed(search.NormalizeTerm(q.Text))
		}
		return res, false, nil
	}
	if errors.Is(err, errs.Invalid) {
		return res, false, err
	}
	if s.Log != nil {
		s.Log.WarnContext(ctx, "search failed; listing from the database", "err", err)
	}
	res, err = s.list(ctx, q)
	return res, true, err
}

// IsMiss tells a search the bureau's dictionary should learn from: it found
// nothing for words typed, with no filter narrowing it, on its first page.
func IsMiss(q search.Query, res search.Result) bool {
	return res.Total == 0 && q.Text != "" && len(q.Filters) == 0 && q.Page <= 1
}

// list is the database's answer to a search: the filters a catalog listing
// knows (first value of each), the text matched plainly.
func (s *Service) list(ctx context.Context, q search.Query) (search.Result, error) {
	out := search.Result{Facets: map[string][]search.FacetValue{}}
	if err := q.Normalize(); err != nil {
		return out, err
	}
	f := catalog.Filter{Public: true, Now: time.Now(), Text: q.Text, Limit: q.PerPage, Offset: (q.Page - 1) * q.PerPage}
	first := func(k string) string {
		if v := q.Filters[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	f.Domain, f.OpenType, f.UpdatePeriod = first("domain"), catalog.OpenType(first("open_type")), first("update_period")
	if code := first("department"); code != "" {
		d, err := s.Catalog.GetDepartmentByCode(ctx, code)
		if errors.Is(err, errs.NotFound) {
			return out, nil // no such department: nothing of it to list
		}
		if err != nil {
			return out, err
		}
		f.DepartmentID = d.ID
	}
	rs, total, err := s.Catalog.ListResources(ctx, f)
	if err != nil {
		return out, err
	}
	out.Total = total
	for _, r := range rs {
		d, err := s.Document(ctx, r)
		if err != nil {
			return out, err
		}
		out.Hits = append(out.Hits, search.Hit{Doc: d})
	}
	return out, nil
}

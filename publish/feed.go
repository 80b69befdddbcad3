package publish

import (
	"context"
	"sort"
	"time"

	"opendata/catalog"
)

// The feeds of new and updated datasets (Atom on the portal): what the
// open catalog shows, and when it last changed. Nothing here reads a
// version's records: a feed carries the entries' metadata only.

// FeedLimit is the most entries a feed carries.
const FeedLimit = 50

// FeedItem is a dataset of a feed and when the public last saw it change.
type FeedItem struct {
	Resource catalog.Resource
	Updated  time.Time
}

// FeedUpdated is when the public last saw r change: its latest
// publication or its entry's latest edit, whichever is later.
func FeedUpdated(r catalog.Resource) time.Time {
	t := r.UpdatedAt
	if r.PublishedAt != nil && r.PublishedAt.After(t) {
		t = *r.PublishedAt
	}
	return t.UTC()
}

// CatalogFeed lists the datasets the open catalog shows (of department
// dept; 0 for all), most recently changed first, at most FeedLimit.
func (s *Service) CatalogFeed(ctx context.Context, dept int64) ([]FeedItem, error) {
	now := s.Now.Now()
	rs, _, err := s.Catalog.ListResources(ctx, catalog.Filter{Public: true, Now: now, DepartmentID: dept, Limit: 1000})
	if err != nil {
		return nil, err
	}
	return feedOf(rs, now), nil
}

// feedOf keeps the public resources of rs at now, most recently changed
// first, at most FeedLimit.
func feedOf(rs []catalog.Resource, now time.Time) []FeedItem {
	out := []FeedItem{}
	for _, r := range rs {
		if r.IsPublic(now) {
			out = append(out, FeedItem{Resource: r, Updated: FeedUpdated(r)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Updated.Equal(out[j].Updated) {
			return out[i].Updated.After(out[j].Updated)
		}
		return out[i].Resource.ID > out[j].Resource.ID
	})
	if len(out) > FeedLimit {
		out = out[:FeedLimit]
	}
	return out
}

// VersionItem is a published version of a dataset's feed and when it was
// published.
type VersionItem struct {
	Version   catalog.Version
	Published time.Time
}

// DatasetFeed lists the published versions of r (PublicVersions), newest
// first, each with when it was published; none when r is not public.
func (s *Service) DatasetFeed(ctx context.Context, r catalog.Resource) ([]VersionItem, error) {
	vs, err := s.PublicVersions(ctx, r)
	if err != nil || len(vs) == 0 {
		return []VersionItem{}, err
	}
	evs, err := s.Events(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	return versionItems(vs, evs), nil
}

// versionItems dates each version by its last "published" event (its
// creation when none is recorded), newest version first, at most
// FeedLimit.
func versionItems(vs []catalog.Version, evs []Event) []VersionItem {
	at := map[int]time.Time{}
	for _, e := range evs {
		if e.Action == "published" {
			at[e.Version] = e.At
		}
	}
	out := []VersionItem{}
	for _, v := range vs {
		t, ok := at[v.Number]
		if !ok {
			t = v.CreatedAt
		}
		out = append(out, VersionItem{Version: v, Published: t.UTC()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Version.Number > out[j].Version.Number })
	if len(out) > FeedLimit {
		out = out[:FeedLimit]
	}
	return out
}

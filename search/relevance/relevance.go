// Package relevance measures how well the catalog search finds what people
// mean: a judged set (search/testdata/relevance: a catalog of realistic
// entries with confusers, and queries with graded judgments), a scorer for
// nDCG@10, MRR and recall@10, and a loader that puts the catalog through the
// real indexing path (catalog entries, versions, review and publication).
package relevance

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"opendata/auth"
	"opendata/catalog"
	"opendata/publish"
	"opendata/search"
)

// Department of the judged catalog.
type Department struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	NameEn string `json:"name_en"`
}

// Entry is a catalog entry of the judged set (the fields search sees; the
// rest of a catalog entry is filled with plausible defaults).
type Entry struct {
	Code         string   `json:"code"`
	Department   string   `json:"department"`
	Name         string   `json:"name"`
	NameEn       string   `json:"name_en"`
	Summary      string   `json:"summary"`
	Keywords     []string `json:"keywords"`
	Items        []string `json:"items"`
	Domain       string   `json:"domain"`
	UpdatePeriod string   `json:"update_period"`
	OpenType     string   `json:"open_type"`
	Downloads    int      `json:"downloads"`
}

// Catalog is the judged catalog.
type Catalog struct {
	Departments []Department `json:"departments"`
	Entries     []Entry      `json:"entries"`
}

// Query is one judged query: entry code → grade (3 what was asked for, 2 a
// close neighbour a person would accept, 1 marginal; unlisted: not relevant).
type Query struct {
	Q        string         `json:"q"`
	Class    string         `json:"class"`
	Relevant map[string]int `json:"relevant"`
}

// Classes of queries, in report order.
var Classes = []string{"exact_title", "synonym", "multi_word", "english", "short"}

// Load reads catalog.json and queries.json from dir.
func Load(dir string) (Catalog, []Query, error) {
	var c Catalog
	var qs []Query
	for name, v := range map[string]any{"catalog.json": &c, "queries.json": &qs} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return c, nil, err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return c, nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	codes := map[string]bool{}
	for _, e := range c.Entries {
		codes[e.Code] = true
	}
	for _, q := range qs {
		if !slices.Contains(Classes, q.Class) {
			return c, nil, fmt.Errorf("query %q: unknown class %q", q.Q, q.Class)
		}
		for code, g := range q.Relevant {
			if !codes[code] || g < 1 || g > 3 {
				return c, nil, fmt.Errorf("query %q: bad judgment %s=%d", q.Q, code, g)
			}
		}
	}
	return c, qs, nil
}

// Build loads the catalog through the real indexing path: departments and
// catalog entries in the metadata database, one version each, download
// counts, then submission and approval, whose publication indexes each entry
// as publish.Service.Document describes it.
func Build(ctx context.Context, svc *publish.Service, users *auth.Store, c Catalog) error {
	cat := svc.Catalog
	depts := map[string]catalog.Department{}
	for _, d := range c.Departments {
		dep, err := cat.CreateDepartment(ctx, catalog.Department{Code: d.Code, Name: d.Name, NameEn: d.NameEn, Kind: "department"})
		if err != nil {
			return fmt.Errorf("department %s: %w", d.Code, err)
		}
		depts[d.Code] = dep
	}
	approver, err := users.CreateUser(ctx, auth.NewUser{Username: "relevance_bureau", Password: "relevance-bureau-1", Role: auth.RoleBureauAdmin})
	if err != nil {
		return err
	}
	counter := publish.NewCounter(time.UTC)
	var ids []int64
	for _, e := range c.Entries {
		d, ok := depts[e.Department]
		if !ok {
			return fmt.Errorf("entry %s: unknown department %s", e.Code, e.Department)
		}
		items := make([]catalog.Item, 0, len(e.Items))
		for _, it := range e.Items {
			items = append(items, catalog.Item{Name: it, Type: "string"})
		}
		entry := catalog.Entry{Code: e.Code, Name: e.Name, NameEn: e.NameEn, DepartmentID: d.ID, Summary: e.Summary,
			CatalogKind: "department", Domain: e.Domain, Format: "table", Items: items, CollectionChannel: "business_system",
			UpdatePeriod: e.UpdatePeriod, ShareType: catalog.ShareUnconditional, ShareMethods: []string{"api", "file"}, OpenType: catalog.OpenType(e.OpenType),
			ResponsiblePerson: "数据管理员", ResponsibleContact: "0718-8000000", UsageNote: "使用时请注明数据来源", Keywords: e.Keywords}
		if catalog.OpenType(e.OpenType) == catalog.OpenOnApplication {
			entry.OpenCondition = "科研机构与企业说明用途后申请，经审核开放"
		}
		r, err := cat.CreateResource(ctx, auth.System, entry)
		if err != nil {
			return fmt.Errorf("entry %s: %w", e.Code, err)
		}
		v, err := cat.ReserveVersion(ctx, auth.System, r.ID, e.Code+".csv", "csv")
		if err != nil {
			return err
		}
		v.RowsStored = int64(100 + len(e.Summary)*7)
		if err := cat.CommitVersion(ctx, v); err != nil {
			return err
		}
		for i := 0; i < e.Downloads; i++ {
			counter.Download(r.ID)
		}
		ids = append(ids, r.ID)
	}
	if _, err := counter.Flush(ctx, svc.DB); err != nil {
		return err
	}
	for _, id := range ids {
		if err := svc.Submit(ctx, auth.System, id, 1); err != nil {
			return err
		}
		if err := svc.Approve(ctx, approver.Actor(), id, 1); err != nil {
			return err
		}
	}
	return nil
}

// Scores of one query or the mean over several.
type Scores struct {
	NDCG   float64 `json:"ndcg@10"`
	MRR    float64 `json:"mrr"`
	Recall float64 `json:"recall@10"`
}

// K is the depth the scores look at.
const K = 10

// Score grades a ranking (entry codes, best first) against judgments:
// nDCG@10 with gains 2^grade − 1, the reciprocal rank of the first relevant
// entry, and the share of relevant entries in the first ten.
func Score(ranked []string, rel map[string]int) Scores {
	var dcg, idcg float64
	var s Scores
	found := 0
	for i, code := range ranked {
		if i >= K {
			break
		}
		g := rel[code]
		if g == 0 {
			continue
		}
		dcg += (math.Pow(2, float64(g)) - 1) / math.Log2(float64(i+2))
		found++
		if s.MRR == 0 {
			s.MRR = 1 / float64(i+1)
		}
	}
	grades := make([]int, 0, len(rel))
	for _, g := range rel {
		grades = append(grades, g)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(grades)))
	for i, g := range grades {
		if i >= K {
			break
		}
		idcg += (math.Pow(2, float64(g)) - 1) / math.Log2(float64(i+2))
	}
	if idcg > 0 {
		s.NDCG = dcg / idcg
	}
	if len(rel) > 0 {
		s.Recall = float64(found) / float64(min(len(rel), K))
	}
	return s
}

// Result is one query's ranking and scores.
type Result struct {
	Query
	Ranked []string `json:"ranked"`
	Scores
}

// Report is the outcome of a run.
type Report struct {
	Overall Scores            `json:"overall"`
	ByClass map[string]Scores `json:"by_class"`
	Queries []Result          `json:"queries"`
}

func mean(rs []Result) Scores {
	var s Scores
	if len(rs) == 0 {
		return s
	}
	for _, r := range rs {
		s.NDCG += r.NDCG
		s.MRR += r.MRR
		s.Recall += r.Recall
	}
	n := float64(len(rs))
	return Scores{s.NDCG / n, s.MRR / n, s.Recall / n}
}

// Evaluate runs every query against idx (first page of ten, by relevance)
// and scores it.
func Evaluate(ctx context.Context, idx search.Index, qs []Query) (Report, error) {
	rep := Report{ByClass: map[string]Scores{}}
	by := map[string][]Result{}
	for _, q := range qs {
		res, err := idx.Search(ctx, search.Query{Text: q.Q, PerPage: K})
		if err != nil {
			return rep, fmt.Errorf("%q: %w", q.Q, err)
		}
		r := Result{Query: q}
		for _, h := range res.Hits {
			r.Ranked = append(r.Ranked, h.Code)
		}
		r.Scores = Score(r.Ranked, q.Relevant)
		rep.Queries = append(rep.Queries, r)
		by[q.Class] = append(by[q.Class], r)
	}
	rep.Overall = mean(rep.Queries)
	for c, rs := range by {
		rep.ByClass[c] = mean(rs)
	}
	return rep, nil
}

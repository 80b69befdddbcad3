package query

import (
	"context"
	"io"
	"net/url"
)

// Request is one records call on a resolved, authorised file.
type Request struct {
	Resource int64
	Version  int
	Variant  string   // open or full
	Key      string   // the Parquet object's key
	Columns  []string // the caller's column scope (a grant's); nil for all
	Params   url.Values
}

// Prepared is a checked query, ready to stream.
type Prepared struct {
	Query *Query
	Built Built
	req   Request
	e     *Engine
	sign  Signer
}

// Prepare fetches the file into the cache, reads its schema (only the
// columns in scope), parses and checks the parameters and builds the SQL.
// Every problem with the parameters is a 400 naming the parameter.
func (e *Engine) Prepare(ctx context.Context, sign Signer, req Request) (*Prepared, error) {
	path, schema, err := e.Local(ctx, req.Key)
	if err != nil {
		return nil, err
	}
	schema = schema.Only(req.Columns)
	q, err := Parse(req.Params, schema, e.opt.Location)
	if err != nil {
		return nil, err
	}
	if s := req.Params.Get("cursor"); s != "" {
		if q.Cursor, err = sign.Decode(s, req.Resource, req.Version, req.Variant, q.SortSpec()); err != nil {
			return nil, err
		}
	}
	b, err := q.Build(path)
	if err != nil {
		return nil, err // the cursor's keys do not fit the sort (errs.Fieldf)
	}
	return &Prepared{Query: q, Built: b, req: req, e: e, sign: sign}, nil
}

// Result sums up a streamed answer (usage statistics).
type Result struct {
	Rows  int64
	Next  string
	Count *int64
}

// Write runs the query and streams the answer to w. The count, when asked,
// runs first, so a failure before the first byte is still a clean error.
// next, when not nil, is told the next page's cursor before End (the HTTP
// layer sends it as a trailer for NDJSON and CSV).
func (p *Prepared) Write(ctx context.Context, w io.Writer, next func(string)) (Result, error) {
	var res Result
	if p.Query.Count {
		n, err := p.e.Count(ctx, p.Built)
		if err != nil {
			return res, err
		}
		res.Count = &n
	}
	out := NewWriter(p.Query.Format, w, p.Built.Out, p.e.opt.Location, p.Query.Raw)
	if err := out.Begin(Meta{Resource: p.req.Resource, Version: p.req.Version, Variant: p.req.Variant, Fields: p.Built.Out,
		Count: res.Count, Limit: p.Query.Limit, Offset: p.Query.Offset}); err != nil {
		return res, err
	}
	var last Row
	err := p.e.Run(ctx, p.Built, func(r Row) error {
		res.Rows++
		last = r
		return out.Row(r.Values)
	})
	if err != nil {
		return res, err
	}
	if p.Built.Paged && res.Rows == int64(p.Query.Limit) {
		c := Cursor{Resource: p.req.Resource, Version: p.req.Version, Variant: p.req.Variant, Sort: p.Query.SortSpec(), Row: last.Number}
		for i, k := range p.Built.Keys {
			c.Keys = append(c.Keys, keyText(last.Keys[i], k.Type, p.e.opt.Location))
		}
		res.Next = p.sign.Encode(c)
	}
	if next != nil {
		next(res.Next)
	}
	return res, out.End(res.Next)
}

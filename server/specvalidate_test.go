package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"opendata/openapi"
)

var spec = sync.OnceValues(func() (*openapi3.T, routers.Router) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Spec)
	if err != nil {
		panic(err)
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		panic(err)
	}
	for _, ct := range []string{"text/csv", "application/x-ndjson", "application/yaml", "application/vnd.apache.parquet"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
	openapi3filter.RegisterBodyDecoder("application/ld+json", openapi3filter.JSONBodyDecoder)
	return doc, r
})

// checkAgainstSpec validates an API answer against openapi.yaml: the
// documented response of that status (body, headers, content type), and
// for any error status the Error schema. Tests call it for every /api/
// answer they receive, so the spec cannot drift from the server.
func checkAgainstSpec(t testing.TB, req *http.Request, res *http.Response, body []byte) {
	t.Helper()
	p := req.URL.Path
	if !strings.HasPrefix(p, "/api/") && p != "/healthz" && p != "/readyz" {
		return
	}
	doc, router := spec()
	r2 := req.Clone(context.Background())
	r2.URL.Scheme, r2.URL.Host, r2.Host = "", "", ""
	route, params, err := router.FindRoute(r2)
	if err != nil && res.StatusCode == http.StatusNotFound {
		var v any
		if json.Unmarshal(body, &v) != nil || doc.Components.Schemas["Error"].Value.VisitJSON(v) != nil {
			t.Errorf("spec: %s %s → 404 without the Error body: %.200s", req.Method, p, body)
		}
		return
	}
	if err != nil {
		t.Errorf("spec: %s %s is not in openapi.yaml: %v", req.Method, p, err)
		return
	}
	opts := &openapi3filter.Options{ExcludeRequestBody: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r2, PathParams: params, Route: route, Options: opts},
		Status:                 res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(body)), Options: opts,
	}
	documented := route.Operation.Responses.Status(res.StatusCode) != nil
	if documented && res.StatusCode != http.StatusNotModified {
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("spec: %s %s → %d does not match openapi.yaml: %v\nbody: %.400s", req.Method, p, res.StatusCode, err, body)
		}
	}
	if res.StatusCode >= 400 && !documented {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Errorf("spec: %s %s → %d: error body is not JSON: %.200s", req.Method, p, res.StatusCode, body)
			return
		}
		if err := doc.Components.Schemas["Error"].Value.VisitJSON(v); err != nil {
			t.Errorf("spec: %s %s → %d: error body does not match Error: %v", req.Method, p, res.StatusCode, err)
		}
	}
}

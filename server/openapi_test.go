package server_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"opendata/openapi"
	"opendata/server"
)

// TestSpecCoversRoutes keeps openapi.yaml and the router in step: every
// route is documented and every documented path exists.
func TestSpecCoversRoutes(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("spec is invalid: %v", err)
	}
	e := sqliteEnv(t)
	srv := server.New(e.app)
	param := regexp.MustCompile(`:([a-z]+)`)
	routes := map[string]bool{}
	for _, r := range srv.Routes() {
		if r[1] == "/*" || strings.HasSuffix(r[1], "/*") || r[0] == "echo_route_not_found" {
			continue
		}
		// Portal pages are HTML for people; the spec documents the API.
		if !strings.HasPrefix(r[1], "/api/") && r[1] != "/healthz" && r[1] != "/readyz" {
			continue
		}
		p := param.ReplaceAllString(r[1], "{$1}")
		routes[r[0]+" "+p] = true
		item := doc.Paths.Find(p)
		if item == nil || item.GetOperation(r[0]) == nil {
			t.Errorf("route %s %s is not in openapi.yaml", r[0], p)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !routes[method+" "+path] {
				t.Errorf("openapi.yaml documents %s %s, which the server does not have", method, path)
			}
		}
	}
}

package server

import (
	"net/url"
	"strings"
	"testing"
)

// browserResolve is where a browser goes for a Location header on a page of
// base: it drops tabs and newlines anywhere, trims C0 controls and spaces,
// and reads backslashes as slashes (WHATWG URL parsing).
func browserResolve(base *url.URL, loc string) (*url.URL, error) {
	loc = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		if r == '\\' {
			return '/'
		}
		return r
	}, loc)
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= ' ' })
	ref, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(ref), nil
}

func checkSafeNext(t *testing.T, next string) {
	got := safeNext(next)
	if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\t\r\n") {
		t.Fatalf("safeNext(%q) = %q: not a plain path", next, got)
	}
	base, _ := url.Parse("https://data.example.gov.cn/login")
	u, err := browserResolve(base, got)
	if err != nil {
		t.Fatalf("safeNext(%q) = %q does not parse: %v", next, got, err)
	}
	if u.Scheme != "https" || u.Host != "data.example.gov.cn" || u.User != nil {
		t.Fatalf("safeNext(%q) = %q leads to %s", next, got, u)
	}
}

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/%09/evil.example/x":       "/console",
		"/\t/evil.example/x":        "/console",
		"/\n/evil.example":          "/console",
		"//evil.example":            "/console",
		"///evil.example":           "/console",
		"/\\evil.example":           "/console",
		"\\/evil.example":           "/console",
		"https://evil.example/":     "/console",
		"javascript:alert(1)":       "/console",
		"/%2F%2Fevil.example":       "/console",
		"/%5Cevil.example":          "/console",
		" /console":                 "/console",
		"":                          "/console",
		"/console/share?tab=in#top": "/console/share?tab=in#top",
		"/account":                  "/account",
		"/datasets/12/apply":        "/datasets/12/apply",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
		checkSafeNext(t, next)
	}
}

// FuzzSafeNext: whatever the input, the login goes to a path on this site
// as a browser reads it.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/%09/evil.example/x", "//x", "/\\x", "/a?b=c#d", "/%2f%2fx", "/\u3000/x", "/..//x", "/./x", "https://x", "/@x", "/a:b@c/"} {
		f.Add(s)
	}
	f.Fuzz(checkSafeNext)
}

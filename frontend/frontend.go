// Package frontend is the portal's look: server-rendered templates, static
// files and the helpers they use, all embedded in the binary. It works
// without JavaScript; charts are SVG drawn on the server from statistics
// computed at ingest.
package frontend

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"math"
	"net/http"
	"opendata/access"
	"strconv"
	"strings"
	"time"

	"opendata/i18n"
	"opendata/search"
)

//go:embed templates/*.html static/*
var files embed.FS

// Renderer renders pages; each page is the layout plus its own template.
type Renderer struct {
	pages map[string]*template.Template
}

// New parses every page once.
func New() (*Renderer, error) {
	r := &Renderer{pages: map[string]*template.Template{}}
	entries, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := strings.TrimSuffix(strings.TrimPrefix(e, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(Funcs).ParseFS(files, "templates/layout.html", e)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		r.pages[name] = t
	}
	return r, nil
}

// Render writes page with data; it renders to a buffer first so a template
// error never sends half a page.
func (r *Renderer) Render(w io.Writer, page string, data any) error {
	t, ok := r.pages[page]
	if !ok {
		return fmt.Errorf("no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	_, err := buf.WriteTo(w)
	return err
}

// Static serves the embedded static files.
func Static() http.Handler {
	sub, _ := fs.Sub(files, "static")
	fsrv := http.FileServer(http.FS(sub))
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	}))
}

// Funcs are the template helpers.
var Funcs = template.FuncMap{
	"t": func(lang, key string, kv ...any) string {
		var p map[string]string
		if len(kv) > 0 {
			p = map[string]string{}
			for i := 0; i+1 < len(kv); i += 2 {
				p[fmt.Sprint(kv[i])] = fmt.Sprint(kv[i+1])
			}
		}
		return i18n.T(lang, key, p)
	},
	// msg renders a field error's text: a message key in the reader's
	// language, any other text as it is.
	"msg": i18n.Text,
	// label takes the code as any value of a string kind (the catalog's
	// typed vocabularies: catalog.ShareType, catalog.OpenType, …).
	"label": func(lang, group string, code any) string {
		value := fmt.Sprint(code)
		if value == "" {
			return ""
		}
		return i18n.T(lang, group+"."+value, nil)
	},
	"num":      Num,
	"size":     Size,
	"date":     Date,
	"datetime": DateTime,
	"hl":       search.Highlight,
	"pct":      func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"hist":     Histogram,
	"bars":     TopBars,
	"spark":    Spark,
	"usage":    UsageChart,
	"add":      func(a, b int) int { return a + b },
	"join":     strings.Join,
	"list":     func(v ...string) []string { return v },
	// dict passes several values to a shared template: dict "K" v "K2" v2.
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	"mul100": func(f float64) float64 { return 100 * f },
	"sval": func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	},
	"deref": func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	},
}

// Num groups thousands: 1234567 → 1,234,567 (both languages use commas).
func Num(n any) string {
	var v int64
	switch x := n.(type) {
	case int:
		v = int64(x)
	case int64:
		v = x
	case uint64:
		v = int64(x)
	case float64:
		v = int64(x)
	}
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Size renders bytes for people.
func Size(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KB", float64(n)/1024)
	case n < 1<<30:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GB", float64(n)/(1<<30))
}

var cst = time.FixedZone("CST", 8*3600)

// Date formats a day for the locale (times shown in China Standard Time).
func Date(lang string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(cst)
	if lang == i18n.EN {
		return t.Format("2 Jan 2006")
	}
	return t.Format("2006年1月2日")
}

// DateTime formats a moment for the locale.
func DateTime(lang string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(cst)
	if lang == i18n.EN {
		return t.Format("2 Jan 2006 15:04")
	}
	return t.Format("2006年1月2日 15:04")
}

// Buckets is a histogram as the charts take it: len(Counts)+1 bounds, as
// display strings.
type Buckets struct {
	Bounds []string
	Counts []int64
}

// Bar is one frequent value and how often it occurs.
type Bar struct {
	Label string
	Count int64
}

// Histogram draws a column's histogram as an accessible SVG.
func Histogram(h *Buckets, title string) template.HTML {
	if h == nil || len(h.Counts) == 0 {
		return ""
	}
	const w, ht = 320.0, 120.0
	var maxC int64 = 1
	for _, c := range h.Counts {
		maxC = max(maxC, c)
	}
	bw := w / float64(len(h.Counts))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s"><title>%s</title>`, w, ht+18, template.HTMLEscapeString(title), template.HTMLEscapeString(title))
	for i, c := range h.Counts {
		bh := math.Max(1, float64(c)/float64(maxC)*ht)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#2f6fad"><title>%s – %s: %d</title></rect>`,
			float64(i)*bw+1, ht-bh, bw-2, bh, template.HTMLEscapeString(h.Bounds[i]), template.HTMLEscapeString(h.Bounds[i+1]), c)
	}
	fmt.Fprintf(&b, `<text x="0" y="%.0f" font-size="10" fill="#555">%s</text>`, ht+14, template.HTMLEscapeString(h.Bounds[0]))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="10" fill="#555" text-anchor="end">%s</text></svg>`, w, ht+14, template.HTMLEscapeString(h.Bounds[len(h.Bounds)-1]))
	return template.HTML(b.String())
}

// TopBars draws the most common values as horizontal bars.
func TopBars(vals []Bar, title string) template.HTML {
	if len(vals) == 0 {
		return ""
	}
	if len(vals) > 8 {
		vals = vals[:8]
	}
	const w, row = 320.0, 18.0
	var maxC int64 = 1
	for _, v := range vals {
		maxC = max(maxC, v.Count)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s"><title>%s</title>`, w, row*float64(len(vals)), template.HTMLEscapeString(title), template.HTMLEscapeString(title))
	for i, v := range vals {
		bw := math.Max(1, float64(v.Count)/float64(maxC)*(w-130))
		y := float64(i) * row
		label := []rune(v.Label)
		if len(label) > 9 {
			label = append(label[:8], '…')
		}
		fmt.Fprintf(&b, `<text x="0" y="%.0f" font-size="11" fill="#222">%s</text>`, y+13, template.HTMLEscapeString(string(label)))
		fmt.Fprintf(&b, `<rect x="110" y="%.0f" width="%.1f" height="%.0f" fill="#3c8d5a"><title>%s: %d</title></rect>`, y+3, bw, row-6, template.HTMLEscapeString(v.Label), v.Count)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="10" fill="#555">%s</text>`, 114+bw, y+13, Num(v.Count))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// Spark draws daily counts (views and downloads) as paired columns.
func Spark(days []DayCount, title string) template.HTML {
	if len(days) == 0 {
		return ""
	}
	const w, ht = 320.0, 60.0
	var maxC int64 = 1
	for _, d := range days {
		maxC = max(maxC, d.Views, d.Downloads)
	}
	bw := w / float64(len(days))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s"><title>%s</title>`, w, ht, template.HTMLEscapeString(title), template.HTMLEscapeString(title))
	for i, d := range days {
		vh := float64(d.Views) / float64(maxC) * ht
		dh := float64(d.Downloads) / float64(maxC) * ht
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#9db9d8"><title>%s: %d / %d</title></rect>`, float64(i)*bw, ht-vh, bw/2, vh, d.Day, d.Views, d.Downloads)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#2f6fad"></rect>`, float64(i)*bw+bw/2, ht-dh, bw/2-1, dh)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// DayCount mirrors publish.DayCount without importing it.
type DayCount struct {
	Day       string
	Views     int64
	Downloads int64
}

// UsageChart draws API calls per day as columns (rows served in the
// tooltip), with the first and last day labelled.
func UsageChart(days []string, daily []access.UsageCount, title string) template.HTML {
	if len(days) == 0 || len(days) != len(daily) {
		return ""
	}
	const w, ht, axis = 640.0, 120.0, 16.0
	var maxC int64 = 1
	for _, d := range daily {
		maxC = max(maxC, d.Calls)
	}
	bw := w / float64(len(days))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart wide" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s"><title>%s</title>`, w, ht+axis, template.HTMLEscapeString(title), template.HTMLEscapeString(title))
	for i, d := range daily {
		h := float64(d.Calls) / float64(maxC) * (ht - 12)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#2f6fad"><title>%s: %d / %d</title></rect>`, float64(i)*bw+1, ht-h, bw-2, h, days[i], d.Calls, d.Rows)
	}
	fmt.Fprintf(&b, `<text x="0" y="%.0f" font-size="11" fill="#555">%s</text>`, ht+axis-3, days[0])
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="11" fill="#555" text-anchor="end">%s</text>`, w, ht+axis-3, days[len(days)-1])
	fmt.Fprintf(&b, `<text x="2" y="11" font-size="11" fill="#555">%s</text>`, Num(maxC))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

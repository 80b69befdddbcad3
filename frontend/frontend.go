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
	"strconv"
	"strings"
	"time"

	"opendata/i18n"
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
	"pct":      func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"hist":     Histogram,
	"bars":     TopBars,
	"spark":    Spark,
	"usage":    UsageChart,
	"pointmap": PointMap,
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

// DayCount is one day of views and downloads (publish.DayCount as the
// charts take it).
type DayCount struct {
	Day       string
	Views     int64
	Downloads int64
}

// DayCalls is one day of API calls and the rows they served.
type DayCalls struct {
	Day   string
	Calls int64
	Rows  int64
}

// series is one set of columns in a daily chart.
type series struct {
	label  string
	color  string
	values []int64
}

// niceMax rounds m up to 1, 2 or 5 times a power of ten, so the axis ticks
// are round numbers.
func niceMax(m int64) int64 {
	if m < 1 {
		return 1
	}
	p := int64(1)
	for p*10 <= m {
		p *= 10
	}
	for _, f := range []int64{1, 2, 5, 10} {
		if f*p >= m {
			return f * p
		}
	}
	return 10 * p
}

// shortDay is "2006-01-02" as the axis shows it: 1/2 (en) or 1月2日.
func shortDay(lang, day string) string {
	t, err := time.Parse("2006-01-02", day)
	if err != nil {
		return day
	}
	if lang == i18n.EN {
		return t.Format("2 Jan")
	}
	return t.Format("1月2日")
}

// dailyChart draws one column per day and series, with a value axis (0,
// half and the top, gridlines and labels), dates under the first, every
// seventh and the last day, axis titles and a legend; each column's tooltip
// gives its day and value.
func dailyChart(lang string, days []string, ss []series, yTitle, title string) template.HTML {
	if len(days) == 0 {
		return ""
	}
	const w, ht, left, top, bottom = 640.0, 150.0, 48.0, 22.0, 34.0
	plotW, plotH := w-left-8, ht-top-bottom
	var m int64
	for _, s := range ss {
		for _, v := range s.values {
			m = max(m, v)
		}
	}
	top1 := niceMax(m)
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart wide" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s"><title>%s</title>`, w, ht, esc(title), esc(title))
	for _, f := range []int64{0, 1, 2} {
		v := top1 * f / 2
		y := top + plotH - float64(v)/float64(top1)*plotH
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/>`, left, y, w-8, y)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" font-size="10" fill="#555" text-anchor="end">%s</text>`, left-4, y+3, Num(v))
	}
	fmt.Fprintf(&b, `<text x="2" y="12" font-size="10" fill="#555">%s</text>`, esc(yTitle))
	slot := plotW / float64(len(days))
	bw := (slot - 2) / float64(len(ss))
	for i, day := range days {
		x := left + float64(i)*slot + 1
		for k, s := range ss {
			if i >= len(s.values) {
				continue
			}
			h := float64(s.values[i]) / float64(top1) * plotH
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`,
				x+float64(k)*bw, top+plotH-h, max(bw-0.5, 0.5), h, s.color, esc(shortDay(lang, day)), esc(s.label), Num(s.values[i]))
		}
		if i == 0 || i == len(days)-1 || (i%7 == 0 && len(days)-1-i >= 4) {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="10" fill="#555" text-anchor="middle">%s</text>`, x+slot/2-1, top+plotH+13, esc(shortDay(lang, day)))
		}
	}
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#888"/>`, left, top+plotH, w-8, top+plotH)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="10" fill="#555" text-anchor="middle">%s</text>`, left+plotW/2, ht-4, esc(i18n.T(lang, "chart.date", nil)))
	lx := w - 8.0
	for k := len(ss) - 1; k >= 0 && len(ss) > 1; k-- {
		s := ss[k]
		tw := 12 + 7*float64(len([]rune(s.label)))
		lx -= tw + 8
		fmt.Fprintf(&b, `<rect x="%.0f" y="4" width="10" height="10" fill="%s"/><text x="%.0f" y="13" font-size="10" fill="#333">%s</text>`, lx, s.color, lx+13, esc(s.label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// Spark draws a dataset's daily views and downloads.
func Spark(lang string, days []DayCount, title string) template.HTML {
	names := make([]string, len(days))
	views, downloads := make([]int64, len(days)), make([]int64, len(days))
	for i, d := range days {
		names[i], views[i], downloads[i] = d.Day, d.Views, d.Downloads
	}
	return dailyChart(lang, names, []series{
		{i18n.T(lang, "chart.views", nil), "#9db9d8", views},
		{i18n.T(lang, "chart.downloads", nil), "#2f6fad", downloads},
	}, i18n.T(lang, "chart.count", nil), title)
}

// UsageChart draws API calls per day; each column's tooltip gives the day
// and the calls.
func UsageChart(lang string, days []DayCalls, title string) template.HTML {
	names := make([]string, len(days))
	calls := make([]int64, len(days))
	for i, d := range days {
		names[i], calls[i] = d.Day, d.Calls
	}
	return dailyChart(lang, names, []series{{i18n.T(lang, "chart.calls", nil), "#2f6fad", calls}}, i18n.T(lang, "chart.calls", nil), title)
}

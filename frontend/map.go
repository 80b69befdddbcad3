package frontend

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// MapPoint is a place to draw, in degrees.
type MapPoint struct {
	Lon, Lat float64
	Label    string // its tooltip (a row's name, or "")
}

// mercY is the Web Mercator ordinate of a latitude (so that a tile layer,
// when an operator configures one, lines up; over a city it is nearly
// linear anyway).
func mercY(lat float64) float64 {
	return math.Log(math.Tan(math.Pi/4 + lat*math.Pi/360))
}

// degStep is a round step in degrees giving about n ticks over span.
func degStep(span float64, n int) float64 {
	if span <= 0 {
		return 0.001
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, f := range []float64{1, 2, 5, 10} {
		if f*p >= raw {
			return f * p
		}
	}
	return 10 * p
}

// degLabel writes a tick's degrees with as many decimals as its step needs.
func degLabel(v, step float64, pos, neg string) string {
	d := 0
	if step < 1 {
		d = int(math.Ceil(-math.Log10(step)))
	}
	h := pos
	if v < 0 {
		h, v = neg, -v
	}
	return strconv.FormatFloat(v, 'f', d, 64) + "°" + h
}

// PointMap draws points over their bounding box as an accessible SVG:
// degree ticks on both axes (E/W, N/S), a frame and a title. Nothing is
// fetched: it is drawn on the server.
func PointMap(points []MapPoint, title string) template.HTML {
	if len(points) == 0 {
		return ""
	}
	const w, ht, left, bottom, pad = 640.0, 400.0, 64.0, 28.0, 12.0
	minX, maxX, minY, maxY := points[0].Lon, points[0].Lon, points[0].Lat, points[0].Lat
	for _, p := range points {
		minX, maxX = math.Min(minX, p.Lon), math.Max(maxX, p.Lon)
		minY, maxY = math.Min(minY, p.Lat), math.Max(maxY, p.Lat)
	}
	// A margin around the points, at least about a hundred metres.
	mx := math.Max((maxX-minX)*0.08, 0.001)
	my := math.Max((maxY-minY)*0.08, 0.001)
	minX, maxX, minY, maxY = minX-mx, maxX+mx, math.Max(minY-my, -85), math.Min(maxY+my, 85)
	pw, ph := w-left-pad, ht-bottom-pad
	// One scale for both axes, so the map is not stretched.
	y0, y1 := mercY(minY), mercY(maxY)
	sx := pw / ((maxX - minX) * math.Pi / 180)
	sy := ph / (y1 - y0)
	s := math.Min(sx, sy)
	ox := left + (pw-s*(maxX-minX)*math.Pi/180)/2
	oy := pad + (ph-s*(y1-y0))/2
	px := func(lon float64) float64 { return ox + s*(lon-minX)*math.Pi/180 }
	py := func(lat float64) float64 { return oy + s*(y1-mercY(lat)) }
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart map" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s"><title>%s</title>`, w, ht, esc(title), esc(title))
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#eef3f8" stroke="#c5d0dc"/>`, px(minX), py(maxY), px(maxX)-px(minX), py(minY)-py(maxY))
	step := degStep(maxX-minX, 5)
	for v := math.Ceil(minX/step) * step; v <= maxX; v += step {
		x := px(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d8dee6"/>`, x, py(maxY), x, py(minY))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10" fill="#555" text-anchor="middle">%s</text>`, x, py(minY)+14, degLabel(v, step, "E", "W"))
	}
	step = degStep(maxY-minY, 5)
	for v := math.Ceil(minY/step) * step; v <= maxY; v += step {
		y := py(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d8dee6"/>`, px(minX), y, px(maxX), y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10" fill="#555" text-anchor="end">%s</text>`, px(minX)-4, y+3, degLabel(v, step, "N", "S"))
	}
	for _, p := range points {
		tip := fmt.Sprintf("%.5f, %.5f", p.Lon, p.Lat)
		if p.Label != "" {
			tip = p.Label + " · " + tip
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="#c0392b" fill-opacity="0.8" stroke="#fff"><title>%s</title></circle>`, px(p.Lon), py(p.Lat), esc(tip))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

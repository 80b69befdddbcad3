package frontend

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestPointMap(t *testing.T) {
	if PointMap(nil, "x") != "" {
		t.Error("a map without points")
	}
	pts := []MapPoint{{109.48, 30.27, "舞阳坝"}, {109.50, 30.30, "<土桥坝>"}, {109.47, 30.29, ""}}
	svg := string(PointMap(pts, "站点位置"))
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not well-formed: %v", err)
	}
	if n := strings.Count(svg, "<circle"); n != 3 {
		t.Errorf("%d points drawn", n)
	}
	for _, want := range []string{`aria-label="站点位置"`, "109.48°E", "30.28°N", "舞阳坝 · 109.48000, 30.27000", "&lt;土桥坝&gt;"} {
		if !strings.Contains(svg, want) {
			t.Errorf("missing %q in %s", want, svg)
		}
	}
	// One point: still a map, with a small extent around it; south and west in letters.
	svg = string(PointMap([]MapPoint{{-70.6, -33.45, ""}}, "x"))
	if strings.Count(svg, "<circle") != 1 || !strings.Contains(svg, "°W") || !strings.Contains(svg, "°S") {
		t.Errorf("one point: %s", svg)
	}
}

func TestDegStep(t *testing.T) {
	for _, tc := range []struct {
		span, want float64
	}{{0.05, 0.01}, {0.3, 0.1}, {1, 0.2}, {12, 5}, {0, 0.001}} {
		if got := degStep(tc.span, 5); got != tc.want {
			t.Errorf("degStep(%v) = %v, want %v", tc.span, got, tc.want)
		}
	}
}

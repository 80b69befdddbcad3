package frontend

import (
	"strings"
	"testing"
)

func TestCharts(t *testing.T) {
	cases := []struct {
		name  string
		svg   string
		rects int
		want  []string
	}{
		{"histogram", string(Histogram(&Buckets{Bounds: []string{"0", "10", "20"}, Counts: []int64{3, 7}}, "床位数")), 2,
			[]string{`aria-label="床位数"`, "0 – 10: 3", "10 – 20: 7"}},
		{"empty histogram", string(Histogram(nil, "x")), 0, nil},
		{"top values", string(TopBars([]Bar{{"朝阳区", 12}, {"<海淀>", 5}}, "区")), 2,
			[]string{"朝阳区: 12", "&lt;海淀&gt;: 5"}},
		{"no values", string(TopBars(nil, "x")), 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := strings.Count(c.svg, "<rect"); got != c.rects {
				t.Errorf("%d bars, want %d: %s", got, c.rects, c.svg)
			}
			for _, w := range c.want {
				if !strings.Contains(c.svg, w) {
					t.Errorf("missing %q in %s", w, c.svg)
				}
			}
		})
	}
}

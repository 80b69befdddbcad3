package frontend

import (
	"strconv"
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

func TestDailyChartsHaveAxes(t *testing.T) {
	var calls []DayCalls
	var views []DayCount
	for i := 1; i <= 30; i++ {
		day := "2026-11-" + []string{"0", ""}[min(i/10, 1)] + strconv.Itoa(i)
		calls = append(calls, DayCalls{Day: day, Calls: int64(i * 3), Rows: int64(i * 100)})
		views = append(views, DayCount{Day: day, Views: int64(i), Downloads: int64(i / 2)})
	}
	cases := []struct {
		name, svg string
		rects     int
		want      []string
	}{
		{"usage zh", string(UsageChart("zh-CN", calls, "每日调用次数")), 30,
			[]string{"11月1日", "11月30日", "日期", "调用次数", ">100<", ">50<", ">0<", "11月30日 调用次数: 90"}},
		{"usage en", string(UsageChart("en", calls, "Calls per day")), 30,
			[]string{"1 Nov", "30 Nov", ">Date<", "30 Nov Calls: 90"}},
		{"views and downloads", string(Spark("zh-CN", views, "近 30 天使用")), 62, // 60 columns + 2 legend keys
			[]string{"浏览", "下载", "11月15日 浏览: 15", ">50<"}},
		{"no days", string(UsageChart("zh-CN", nil, "x")), 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := strings.Count(c.svg, "<rect"); got != c.rects {
				t.Errorf("%d rects, want %d", got, c.rects)
			}
			for _, w := range c.want {
				if !strings.Contains(c.svg, w) {
					t.Errorf("missing %q in %s", w, c.svg)
				}
			}
		})
	}
	for _, c := range []struct{ in, want int64 }{{0, 1}, {1, 1}, {3, 5}, {90, 100}, {101, 200}, {4999, 5000}} {
		if got := niceMax(c.in); got != c.want {
			t.Errorf("niceMax(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

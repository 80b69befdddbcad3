package publish

import (
	"math"
	"strconv"
	"strings"

	"opendata/catalog"
)

// Map columns: a dataset whose open variant carries a longitude and a
// latitude column gets a map of its points on the dataset page.

var (
	lonNames = []string{"lon", "lng", "long", "longitude", "经度"}
	latNames = []string{"lat", "latitude", "纬度"}
)

// GeoColumns finds the longitude and latitude columns of cols: numeric
// columns kept as they are in the open variant, named lon, lng, long,
// longitude or 经度 and lat or latitude or 纬度 (case and spaces ignored,
// also with a prefix or suffix such as "站点经度" or "gps_lat"). ok is false
// unless both are found.
func GeoColumns(cols []catalog.VersionColumn) (lon, lat string, ok bool) {
	for _, c := range cols {
		if !c.Type.Numeric() || c.Open != catalog.TreatKept {
			continue
		}
		n := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(c.Name), " ", ""))
		if lon == "" && geoName(n, lonNames) {
			lon = c.Name
		} else if lat == "" && geoName(n, latNames) {
			lat = c.Name
		}
	}
	return lon, lat, lon != "" && lat != ""
}

// geoName tells a column name that is one of names: the name itself, or
// with a prefix or suffix cut off by _ - . or (for the Chinese names) any
// prefix.
func geoName(n string, names []string) bool {
	for _, want := range names {
		if n == want {
			return true
		}
		if want[0] >= 0x80 {
			if strings.HasSuffix(n, want) {
				return true
			}
			continue
		}
		for _, sep := range []string{"_", "-", "."} {
			if strings.HasSuffix(n, sep+want) || strings.HasPrefix(n, want+sep) {
				return true
			}
		}
	}
	return false
}

// GeoPoint is a place in degrees.
type GeoPoint struct {
	Lon, Lat float64
}

// GeoPoints reads the points of rows (under header) from the lon and lat
// columns, at most limit; a row without two valid coordinates (empty,
// not a number, out of range) is skipped.
func GeoPoints(header []string, rows [][]string, lon, lat string, limit int) []GeoPoint {
	xi, yi := -1, -1
	for i, h := range header {
		switch h {
		case lon:
			xi = i
		case lat:
			yi = i
		}
	}
	out := []GeoPoint{}
	if xi < 0 || yi < 0 {
		return out
	}
	for _, r := range rows {
		if len(out) >= limit {
			break
		}
		if xi >= len(r) || yi >= len(r) {
			continue
		}
		x, err1 := strconv.ParseFloat(strings.TrimSpace(r[xi]), 64)
		y, err2 := strconv.ParseFloat(strings.TrimSpace(r[yi]), 64)
		if err1 != nil || err2 != nil || math.IsNaN(x) || math.IsNaN(y) || x < -180 || x > 180 || y < -85 || y > 85 {
			continue
		}
		out = append(out, GeoPoint{x, y})
	}
	return out
}

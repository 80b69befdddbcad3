package publish_test

import (
	"testing"

	"opendata/catalog"
	"opendata/publish"
)

func TestGeoColumns(t *testing.T) {
	col := func(name string, typ catalog.ColumnType, open catalog.Treatment) catalog.VersionColumn {
		return catalog.VersionColumn{Name: name, Type: typ, Open: open}
	}
	kept := catalog.TreatKept
	for _, tc := range []struct {
		name     string
		cols     []catalog.VersionColumn
		lon, lat string
	}{
		{"english", []catalog.VersionColumn{col("name", catalog.ColString, kept), col("Longitude", catalog.ColDecimal, kept), col("Latitude", catalog.ColDecimal, kept)}, "Longitude", "Latitude"},
		{"short", []catalog.VersionColumn{col("lng", catalog.ColDecimal, kept), col("lat", catalog.ColDecimal, kept)}, "lng", "lat"},
		{"chinese with a prefix", []catalog.VersionColumn{col("站点经度", catalog.ColDecimal, kept), col("站点纬度", catalog.ColDecimal, kept)}, "站点经度", "站点纬度"},
		{"snake prefix", []catalog.VersionColumn{col("gps_lon", catalog.ColDecimal, kept), col("gps_lat", catalog.ColDecimal, kept)}, "gps_lon", "gps_lat"},
		{"text coordinates", []catalog.VersionColumn{col("经度", catalog.ColString, kept), col("纬度", catalog.ColDecimal, kept)}, "", ""},
		{"masked coordinates", []catalog.VersionColumn{col("经度", catalog.ColDecimal, catalog.TreatMasked), col("纬度", catalog.ColDecimal, kept)}, "", ""},
		{"latitude only", []catalog.VersionColumn{col("纬度", catalog.ColDecimal, kept)}, "", ""},
		{"not a coordinate", []catalog.VersionColumn{col("platform", catalog.ColInt, kept), col("relation", catalog.ColInt, kept)}, "", ""},
	} {
		lon, lat, ok := publish.GeoColumns(tc.cols)
		if ok != (tc.lon != "") || ok && (lon != tc.lon || lat != tc.lat) {
			t.Errorf("%s: %q %q %v, want %q %q", tc.name, lon, lat, ok, tc.lon, tc.lat)
		}
	}
}

func TestGeoPoints(t *testing.T) {
	header := []string{"名称", "经度", "纬度"}
	rows := [][]string{{"a", "109.48", "30.27"}, {"b", "", "30.2"}, {"c", "abc", "30"}, {"d", "200", "30"}, {"e", " 109.5 ", "30.3"}, {"f", "109.6"}, {"g", "109.7", "30.4"}}
	got := publish.GeoPoints(header, rows, "经度", "纬度", 2)
	if len(got) != 2 || got[0] != (publish.GeoPoint{Lon: 109.48, Lat: 30.27}) || got[1] != (publish.GeoPoint{Lon: 109.5, Lat: 30.3}) {
		t.Errorf("points: %+v", got)
	}
	if got := publish.GeoPoints(header, rows, "lon", "纬度", 10); len(got) != 0 {
		t.Errorf("missing column: %+v", got)
	}
}

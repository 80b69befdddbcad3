package catalog

import "testing"

func TestLicenceOf(t *testing.T) {
	def := Licence{Name: "CC BY 4.0", URL: "https://creativecommons.org/licenses/by/4.0/"}
	cases := []struct {
		name      string
		licence   string
		url       string
		want      Licence
		wantCheck string
	}{
		{"default", "", "", def, ""},
		{"own with address", "政府数据开放许可协议", "https://data.example.gov.cn/licence", Licence{"政府数据开放许可协议", "https://data.example.gov.cn/licence"}, ""},
		{"own without address", "CC0 1.0", "", Licence{"CC0 1.0", ""}, ""},
		{"blank name keeps the default", "  ", "", def, ""},
		{"address not http", "X", "javascript:alert(1)", Licence{"X", "javascript:alert(1)"}, MsgLicenceURL},
		{"relative address", "X", "/licence", Licence{"X", "/licence"}, MsgLicenceURL},
		{"address without a name", "", "https://example.org/l", def, MsgLicenceURL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := Entry{Licence: c.licence, LicenceURL: c.url}
			if got := LicenceOf(e, def); got != c.want {
				t.Errorf("LicenceOf = %+v, want %+v", got, c.want)
			}
			if got := checkLicence(c.licence, c.url); got != c.wantCheck {
				t.Errorf("checkLicence = %q, want %q", got, c.wantCheck)
			}
		})
	}
}

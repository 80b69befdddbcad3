package catalog

import (
	"net/url"
	"strings"
)

// Licence is what the open data may be used under: a name (CC BY 4.0,
// 政府数据开放许可协议) and where its text is.
type Licence struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

// MsgLicenceURL refuses a licence address that is not http(s), or one
// given without the licence's name.
const MsgLicenceURL = "entry.invalid.licence_url"

// checkLicence: the address, when given, is an absolute http(s) URL of at
// most MaxShort bytes, and comes with a name.
func checkLicence(name, addr string) string {
	if addr == "" {
		return ""
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(addr) > MaxShort || strings.TrimSpace(name) == "" {
		return MsgLicenceURL
	}
	return ""
}

// LicenceOf is the licence an entry's open data is under: its own when it
// names one, else the installation's default (config licence, licence_url).
func LicenceOf(e Entry, def Licence) Licence {
	if strings.TrimSpace(e.Licence) != "" {
		return Licence{Name: strings.TrimSpace(e.Licence), URL: e.LicenceURL}
	}
	return def
}

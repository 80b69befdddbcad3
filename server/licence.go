package server

import "opendata/catalog"

// licenceOf is the licence a resource's open data is under: its entry's,
// else the configured default.
func (s *Server) licenceOf(r catalog.Resource) catalog.Licence {
	return catalog.LicenceOf(r.Entry, catalog.Licence{Name: s.app.Config.Licence, URL: s.app.Config.LicenceURL})
}

// dcatLicence is a licence as DCAT's dct:license (a LicenseDocument, by
// its address when it has one).
func dcatLicence(l catalog.Licence) map[string]any {
	doc := map[string]any{"@type": "dct:LicenseDocument", "dct:title": l.Name}
	if l.URL != "" {
		doc["@id"] = l.URL
	}
	return doc
}

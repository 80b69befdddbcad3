// Package openapi embeds the API description (OpenAPI 3.1) that the server
// serves and the tests check routes against.
package openapi

import _ "embed"

//go:embed openapi.yaml
var Spec []byte

package search

import "opendata/errs"

// errUnavailable marks a backend failure (as opposed to a bad query), so
// callers can fall back to listing from the database.
var errUnavailable = errs.Unavailable

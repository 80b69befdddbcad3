package server

import "opendata/jobs"

// SetJobHandler replaces the handler of a job kind (before Run).
func (s *Server) SetJobHandler(kind string, h jobs.Handler) { s.runner.Handlers[kind] = h }

// JobErrorText is jobErrorText, for the table test.
var JobErrorText = jobErrorText

package audit

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"opendata/errs"
)

// PageSize is how many events the audit log page shows at a time.
const PageSize = 50

// Actions are the kinds of event the log holds, for the page's filter and
// its words (message keys audit.act.<action>).
var Actions = []string{
	"share.read", "open.read", "share.request_filed", "share.approved", "share.refused", "share.escalated_to_office",
	"share.escalated_to_group", "share.office_approved", "share.office_refused", "share.group_approved", "share.group_refused",
	"share.overdue_escalated", "share.grant_revoked", "share.stop_filed", "dispute.reported", "dispute.confirmed", "dispute.rejected",
	"publication.submitted", "publication.published", "publication.rejected", "publication.edit_proposed",
	"publication.withdrawal_announced", "publication.withdrawal_cancelled", "publication.preview_full", "version.ingested",
	"credential.created", "application.file", "account.register", "account.verify", "account.activate", "account.suspend", "key.create", "key.revoke", "key.tier",
}

// Query is the audit log page's filters as a reader gives them: a
// resource's and a department's id, an action, a period of dates
// (YYYY-MM-DD, both days included) and the event to page back from.
type Query struct {
	Resource, Department, Action, From, To, Before string
}

// FilterFor is the Filter of a reader's query within scope, one page long;
// each value is checked and a wrong one is named. Dates are days in loc.
func FilterFor(scope Scope, q Query, loc *time.Location) (Filter, error) {
	f := Filter{Scope: scope, Limit: PageSize}
	num := func(name, v string) (int64, error) {
		v = strings.TrimSpace(v)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return 0, errs.Invalidf("err.number", "name", name)
		}
		return n, nil
	}
	var err error
	if id, err := num("resource", q.Resource); err != nil {
		return f, err
	} else if id != 0 {
		f.ResourceIDs = []int64{id}
	}
	if f.DepartmentID, err = num("department", q.Department); err != nil {
		return f, err
	}
	if f.BeforeID, err = num("before", q.Before); err != nil {
		return f, err
	}
	if a := strings.TrimSpace(q.Action); a != "" {
		if !slices.Contains(Actions, a) {
			return f, errs.Invalidf("err.audit.action")
		}
		f.Action = a
	}
	day := func(name, v string) (time.Time, error) {
		v = strings.TrimSpace(v)
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.ParseInLocation("2006-01-02", v, loc)
		if err != nil {
			return t, errs.Invalidf("err.audit.date", "name", name)
		}
		return t, nil
	}
	if f.From, err = day("from", q.From); err != nil {
		return f, err
	}
	to, err := day("to", q.To)
	if err != nil {
		return f, err
	}
	if !to.IsZero() {
		f.To = to.AddDate(0, 0, 1) // the whole last day
		if !f.From.IsZero() && !f.To.After(f.From) {
			return f, errs.Invalidf("err.audit.period")
		}
	}
	return f, nil
}

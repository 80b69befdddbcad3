package sharing

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"opendata/auth"
	"opendata/catalog"
	"opendata/errs"
)

// Who may see and move a share request, named once for the
// workflow, the API and the console.

// supervises reports whether p sees every request: the bureau and the
// leading-group office.
func supervises(p Principal) bool {
	return !p.System && (p.Role == auth.RoleBureauAdmin || p.Role == auth.RoleOffice)
}

// CanSeeRequest reports whether p sees req: the requesting and the
// providing department, the bureau and the office.
func CanSeeRequest(p Principal, req Request, res catalog.Resource) bool {
	return supervises(p) || p.DepartmentID != 0 && (p.DepartmentID == req.DepartmentID || p.DepartmentID == res.DepartmentID)
}

// CanAnswer reports whether p answers requests for res: the providing
// department's staff (not its systems).
func CanAnswer(p Principal, res catalog.Resource) bool {
	return !p.System && p.DepartmentID != 0 && p.DepartmentID == res.DepartmentID
}

// CanEscalate reports whether p takes a refusal of req up the chain: the
// requesting department's staff.
func CanEscalate(p Principal, req Request) bool {
	return !p.System && p.DepartmentID != 0 && p.DepartmentID == req.DepartmentID
}

// CanSettle reports whether p settles req as it stands: the office an
// escalation to the office, the bureau (the leading group's secretariat)
// one to the leading group.
func CanSettle(p Principal, req Request) bool {
	switch req.Status {
	case EscalatedOffice:
		return !p.System && p.Role == auth.RoleOffice
	case EscalatedGroup:
		return !p.System && p.Role == auth.RoleBureauAdmin
	}
	return false
}

// Actions is what p may do with a request now (the console offers these).
type Actions struct {
	CanAnswer   bool // approve or refuse
	CanEscalate bool
	CanSettle   bool
}

// ActionsFor is what p may do with req, for res, in its present state.
func ActionsFor(p Principal, req Request, res catalog.Resource) Actions {
	return Actions{
		CanAnswer:   req.Status == Pending && CanAnswer(p, res),
		CanEscalate: (req.Status == Refused || req.Status == OfficeRefused) && CanEscalate(p, req),
		CanSettle:   CanSettle(p, req),
	}
}

// GetFor returns request id if p may see it; another department's request
// is a NotFound, so its existence is not revealed.
func (s *Service) GetFor(ctx context.Context, p Principal, id int64) (Request, error) {
	req, err := s.Get(ctx, id)
	if err != nil {
		return req, err
	}
	res, err := s.Catalog.GetResource(ctx, req.ResourceID)
	if err != nil {
		return Request{}, err
	}
	if !CanSeeRequest(p, req, res) {
		return Request{}, errs.NotFoundf("err.share.not_found", "id", id)
	}
	return req, nil
}

// CanSeeDispute reports whether p sees dispute d on res in full (reporter,
// evidence, row): the reporting department, the providing department, the
// bureau and the office. Everyone else sees at most its public part
// (PublicDispute), and only once it is answered on a public dataset.
func CanSeeDispute(p Principal, d Dispute, res catalog.Resource) bool {
	if supervises(p) {
		return true
	}
	return p.DepartmentID != 0 && (p.DepartmentID == res.DepartmentID || p.DepartmentID == d.ReporterDepartment)
}

// CanSeeDisputeContact reports whether p sees the contact a citizen left
// on dispute d of res: only the providing department, which answers them
// (not the bureau or the office, who supervise without writing to them).
func CanSeeDisputeContact(p Principal, d Dispute, res catalog.Resource) bool {
	return CanAnswerDispute(p, res)
}

// CanAnswerDispute reports whether p answers disputes on res: the
// providing department's staff, who verify their own data.
func CanAnswerDispute(p Principal, res catalog.Resource) bool {
	return !p.System && p.DepartmentID != 0 && p.DepartmentID == res.DepartmentID
}

// CanCitizenReportDispute reports whether a member of the public, not
// signed in, may report a dispute on res: on any dataset the portal shows
// them at now.
func CanCitizenReportDispute(res catalog.Resource, now time.Time) bool {
	return res.IsPublic(now)
}

// DisputeLink is the console card of dispute id (notices link to it).
func DisputeLink(id int64) string {
	return fmt.Sprintf("/console/disputes#dispute-%d", id)
}

// PublicDispute is the part of a dispute the public sees: the version, the
// data item, the problem, the answer and its state — not who reported it,
// their contact, their evidence or which record.
func PublicDispute(d Dispute) Dispute {
	d.Reporter, d.Evidence, d.RowKey, d.ReporterDepartment, d.Contact = "", "", "", 0, ""
	return d
}

// VisibleDisputes is what p (nil: the public) sees of ds, disputes of res:
// in full where CanSeeDispute, the public part of answered ones when res is
// public, nothing else.
func VisibleDisputes(p *Principal, res catalog.Resource, public bool, ds []Dispute) []Dispute {
	out := []Dispute{}
	for _, d := range ds {
		switch {
		case p != nil && CanSeeDispute(*p, d, res):
			if !CanSeeDisputeContact(*p, d, res) {
				d.Contact = ""
			}
			out = append(out, d)
		case public && d.Status != "open":
			out = append(out, PublicDispute(d))
		}
	}
	return out
}

// Directions of a share request as a reader sees it: on their own
// department's data (they answer), filed by their department (they wait),
// or neither (the bureau and the office supervise).
const (
	Incoming   = "incoming"
	Outgoing   = "outgoing"
	Supervised = "supervised"
)

// DirectionOf says which of the reader's lists req belongs to.
func DirectionOf(p Principal, req Request, res catalog.Resource) string {
	switch {
	case p.DepartmentID != 0 && res.DepartmentID == p.DepartmentID:
		return Incoming
	case p.DepartmentID != 0 && req.DepartmentID == p.DepartmentID:
		return Outgoing
	}
	return Supervised
}

// RequestLink is where a notice about a share request takes its reader:
// the request's card in the console.
func RequestLink(id int64) string {
	return fmt.Sprintf("/console/share/requests#request-%d", id)
}

// PageLink is a notice's link for a page: notices written before the
// console had the cards linked to the JSON API.
// Dispute reminders linked to the API with the dispute's id in the place
// of the resource's; they open the dispute's card.
func PageLink(link string) string {
	if rest, ok := strings.CutPrefix(link, "/api/v1/share/requests/"); ok {
		if id, err := strconv.ParseInt(rest, 10, 64); err == nil {
			return RequestLink(id)
		}
	}
	if rest, ok := strings.CutPrefix(link, "/api/v1/share/resources/"); ok {
		if rest, ok := strings.CutSuffix(rest, "/disputes"); ok {
			if id, err := strconv.ParseInt(rest, 10, 64); err == nil {
				return DisputeLink(id)
			}
		}
	}
	return link
}

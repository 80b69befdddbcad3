package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"opendata/errs"
	"opendata/i18n"
	"opendata/sharing"
)

// The provider's dispute queue: the disputes on the department's
// data with the working days left, each answered on its card.
func (s *Server) bindConsoleDisputes(g *echo.Group) {
	g.GET("/disputes", s.consoleDisputes)
	g.POST("/disputes/:id/answer", s.consoleDisputeAnswer)
}

// disputeCard is one dispute of the queue as the page shows it; a sent
// answer with errors comes back in it.
type disputeCard struct {
	sharing.QueuedDispute
	ResourceName string
	ReporterDept string // the reporting department's name ("" for a citizen)
	Answer       answerInput
}

type answerInput struct {
	Confirmed string // "yes", "no" or "" (not chosen)
	Text      string
	FixedIn   string
	Errors    errs.FieldErrors
}

func (s *Server) consoleDisputes(c echo.Context) error {
	return s.renderDisputes(c, http.StatusOK, 0, answerInput{})
}

// renderDisputes renders the queue, the card of dispute id holding in.
func (s *Server) renderDisputes(c echo.Context, status int, id int64, in answerInput) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	ctx, l := c.Request().Context(), lang(c)
	q, err := s.app.Sharing.DisputeQueue(ctx, sharing.FromActor(u.Actor()))
	if err != nil {
		return err
	}
	depts, err := s.deptNamesIn(ctx, l)
	if err != nil {
		return err
	}
	cards := make([]disputeCard, 0, len(q))
	for _, qd := range q {
		card := disputeCard{QueuedDispute: qd, ResourceName: qd.Resource.NameIn(l), ReporterDept: depts[qd.Dispute.ReporterDepartment]}
		if qd.Dispute.ID == id {
			card.Answer = in
		}
		cards = append(cards, card)
	}
	c.Response().Header().Set("Cache-Control", "no-store") // it holds citizens' contacts
	return s.render(c, status, "disputes", s.newPage(c, i18n.T(l, "disputes.title", nil), map[string]any{"Cards": cards}))
}

// consoleDisputeAnswer records the provider's answer (sharing.AnswerDispute
// decides who may); an answer with errors comes back on its card.
func (s *Server) consoleDisputeAnswer(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	in := answerInput{Confirmed: c.FormValue("confirmed"), Text: c.FormValue("answer"), FixedIn: strings.TrimSpace(c.FormValue("fixed_in_version"))}
	fe := errs.FieldErrors{}
	if in.Confirmed != "yes" && in.Confirmed != "no" {
		fe["confirmed"] = "dispute.err.confirmed"
	}
	fixedIn := 0
	if in.FixedIn != "" {
		if fixedIn, err = strconv.Atoi(in.FixedIn); err != nil || fixedIn < 1 {
			fe["fixed_in_version"] = "dispute.err.fixed_in"
		}
	}
	if len(fe) == 0 {
		_, err = s.app.Sharing.AnswerDispute(c.Request().Context(), sharing.FromActor(u.Actor()), id, in.Confirmed == "yes", in.Text, fixedIn)
		if !errors.As(err, &fe) && err != nil {
			return err
		}
	}
	if len(fe) > 0 {
		in.Errors = fe
		return s.renderDisputes(c, http.StatusBadRequest, id, in)
	}
	return c.Redirect(http.StatusSeeOther, "/console/disputes?done=dispute_answered#dispute-"+strconv.FormatInt(id, 10))
}

package server

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"opendata/errs"
)

// The staff side of publication, as JSON.
func (s *Server) bindPublish(g *echo.Group) {
	g.POST("/catalog/resources/:id/versions/:n/submit", s.apiPubAction("submit"))
	g.POST("/catalog/resources/:id/versions/:n/approve", s.apiPubAction("approve"))
	g.POST("/catalog/resources/:id/versions/:n/reject", s.apiPubAction("reject"))
	g.POST("/catalog/resources/:id/withdrawal", s.apiWithdraw)
	g.DELETE("/catalog/resources/:id/withdrawal", s.apiCancelWithdraw)
	g.GET("/catalog/resources/:id/publication", s.apiPublication)
	g.GET("/review-queue", s.apiQueue)
	g.POST("/catalog/edits/:id/approve", s.apiEditDecision(true))
	g.POST("/catalog/edits/:id/reject", s.apiEditDecision(false))
}

func (s *Server) apiPubAction(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, id, err := withID(c, staff)
		if err != nil {
			return err
		}
		n, err := pathID(c, "n")
		if err != nil {
			return err
		}
		ctx, a := c.Request().Context(), u.Actor()
		switch action {
		case "submit":
			err = s.app.Publish.Submit(ctx, a, id, int(n))
		case "approve":
			err = s.app.Publish.Approve(ctx, a, id, int(n))
		case "reject":
			var in struct {
				Reason string `json:"reason"`
			}
			if err := bindJSON(c, &in); err != nil {
				return err
			}
			err = s.app.Publish.Reject(ctx, a, id, int(n), in.Reason)
		}
		if err != nil {
			return err
		}
		return s.apiPublication(c)
	}
}

func (s *Server) apiWithdraw(c echo.Context) error {
	u, id, err := withID(c, staff)
	if err != nil {
		return err
	}
	var in struct {
		Reason     string `json:"reason"`
		NoticeDays int    `json:"notice_days"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.app.Publish.Withdraw(c.Request().Context(), u.Actor(), id, in.Reason, in.NoticeDays); err != nil {
		return err
	}
	return s.apiPublication(c)
}

func (s *Server) apiCancelWithdraw(c echo.Context) error {
	u, id, err := withID(c, staff)
	if err != nil {
		return err
	}
	if err := s.app.Publish.CancelWithdrawal(c.Request().Context(), u.Actor(), id); err != nil {
		return err
	}
	return s.apiPublication(c)
}

// apiPublication shows a resource's publication state and history to staff.
func (s *Server) apiPublication(c echo.Context) error {
	_, id, err := withID(c, staff)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	r, err := s.app.Catalog.GetResource(ctx, id)
	if err != nil {
		return err
	}
	states, err := s.app.Publish.VersionStates(ctx, id)
	if err != nil {
		return err
	}
	events, err := s.app.Publish.Events(ctx, id)
	if err != nil {
		return err
	}
	vs := map[string]string{}
	for n, st := range states {
		vs["v"+strconv.Itoa(n)] = st
	}
	return c.JSON(http.StatusOK, map[string]any{"resource_id": id, "published_version": r.PublishedVersion, "withdraw_at": r.WithdrawAt,
		"withdraw_reason": r.WithdrawReason, "versions": vs, "events": events})
}

func (s *Server) apiQueue(c echo.Context) error {
	u, err := staff(c)
	if err != nil {
		return err
	}
	if u.Role == "" {
		return errs.Forbidden
	}
	q, err := s.app.Publish.Queue(c.Request().Context(), u.Actor())
	if err != nil {
		return err
	}
	edits, err := s.app.Publish.PendingEdits(c.Request().Context(), u.Actor())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"queue": q, "edits": edits})
}

// apiEditDecision approves or rejects a pending edit that widens who reads
// an entry's data (a second person with the approver's role).
func (s *Server) apiEditDecision(approve bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, id, err := withID(c, staff)
		if err != nil {
			return err
		}
		var in struct {
			Reason string `json:"reason"`
		}
		if c.Request().ContentLength != 0 {
			if err := bindJSON(c, &in); err != nil {
				return err
			}
		}
		if err := s.app.Publish.DecideEdit(c.Request().Context(), u.Actor(), id, approve, in.Reason); err != nil {
			return err
		}
		p, err := s.app.Publish.GetEdit(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, p)
	}
}

package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"opendata/auth"
	"opendata/errs"
)

func (s *Server) bindAuth(g *echo.Group) {
	g.POST("/auth/login", s.login)
	g.POST("/auth/logout", s.logout)
	g.GET("/auth/me", s.me)
	g.GET("/users", s.listUsers)
	g.POST("/users", s.createUser)
}

func bindJSON(c echo.Context, v any) error {
	if err := c.Bind(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return bodyTooLarge(mbe.Limit)
		}
		return errs.Invalidf("err.bad_json")
	}
	return nil
}

func pathID(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, errs.Invalidf("err.positive", "name", name)
	}
	return id, nil
}

// withID is the preamble of actions on one object: who acts (as who
// decides) and the object's id from the path.
func withID[T any](c echo.Context, who func(echo.Context) (T, error)) (T, int64, error) {
	u, err := who(c)
	if err != nil {
		return u, 0, err
	}
	id, err := pathID(c, "id")
	return u, id, err
}

func (s *Server) login(c echo.Context) error {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	token, u, err := s.app.Users.Login(c.Request().Context(), auth.LoginAttempt{Username: in.Username, Password: in.Password, IP: c.RealIP()}, s.app.Config.SessionTTL)
	if err != nil {
		return err
	}
	csrf := s.startSession(c, token)
	return c.JSON(http.StatusOK, map[string]any{"token": token, "csrf_token": csrf, "user": u})
}

func (s *Server) logout(c echo.Context) error {
	if h := c.Request().Header.Get("Authorization"); len(h) > 7 {
		s.app.Users.Logout(c.Request().Context(), h[7:])
	}
	if ck, err := c.Cookie(sessionCookie); err == nil {
		s.app.Users.Logout(c.Request().Context(), ck.Value)
	}
	s.endSession(c)
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) me(c echo.Context) error {
	u, err := account(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, u)
}

func (s *Server) listUsers(c echo.Context) error {
	u, err := requireRole(c, auth.RoleBureauAdmin, auth.RoleDeptAdmin)
	if err != nil {
		return err
	}
	dept := int64(0)
	if u.Role == auth.RoleDeptAdmin {
		dept = u.DepartmentID
	}
	users, err := s.app.Users.ListUsers(c.Request().Context(), dept)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"users": users})
}

// createUser: who may create which account is auth.MayCreate.
func (s *Server) createUser(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	var in auth.NewUser
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := auth.MayCreate(u.Actor(), in.Role, in.DepartmentID); err != nil {
		return err
	}
	if in.DepartmentID != 0 {
		if _, err := s.app.Catalog.GetDepartment(c.Request().Context(), in.DepartmentID); err != nil {
			return errs.FieldErrors{"department_id": "auth.department.unknown"}
		}
	}
	created, err := s.app.Users.CreateUserBy(c.Request().Context(), u.Actor(), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, created)
}

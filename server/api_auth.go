package server

import (
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
		return errs.Invalidf("the request body is not valid JSON for this route")
	}
	return nil
}

func pathID(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, errs.Invalidf("%s must be a positive number", name)
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
	token, u, err := s.app.Users.Login(c.Request().Context(), in.Username, in.Password, s.app.Config.SessionTTL)
	if err != nil {
		return err
	}
	csrf, _ := auth.NewToken("")
	secure := c.Request().TLS != nil
	maxAge := int(s.app.Config.SessionTTL.Seconds())
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
	c.SetCookie(&http.Cookie{Name: csrfCookie, Value: csrf, Path: "/", Secure: secure, SameSite: http.SameSiteStrictMode, MaxAge: maxAge})
	return c.JSON(http.StatusOK, map[string]any{"token": token, "csrf_token": csrf, "user": u})
}

func (s *Server) logout(c echo.Context) error {
	if h := c.Request().Header.Get("Authorization"); len(h) > 7 {
		s.app.Users.Logout(c.Request().Context(), h[7:])
	}
	if ck, err := c.Cookie(sessionCookie); err == nil {
		s.app.Users.Logout(c.Request().Context(), ck.Value)
	}
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1})
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

// createUser: the bureau creates anyone; a department admin creates staff
// of their own department only.
func (s *Server) createUser(c echo.Context) error {
	u, err := requireRole(c, auth.RoleBureauAdmin, auth.RoleDeptAdmin)
	if err != nil {
		return err
	}
	var in auth.NewUser
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if u.Role == auth.RoleDeptAdmin && (in.DepartmentID != u.DepartmentID || !in.Role.NeedsDepartment()) {
		return errs.Forbiddenf("a department admin creates accounts for their own department only")
	}
	if in.DepartmentID != 0 {
		if _, err := s.app.Catalog.GetDepartment(c.Request().Context(), in.DepartmentID); err != nil {
			return errs.FieldErrors{"department_id": "no such department"}
		}
	}
	created, err := s.app.Users.CreateUser(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, created)
}

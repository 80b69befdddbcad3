package server

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"opendata/auth"
	"opendata/errs"
	"opendata/i18n"
	"opendata/search"
	"opendata/synonyms"
)

// The bureau's side of search: the synonym dictionary (web, CSV, API) and
// the searches that found nothing.
func (s *Server) bindConsoleSearch(g *echo.Group) {
	g.GET("/synonyms", s.consoleSynonyms)
	g.POST("/synonyms", s.consoleSynonymPut)
	g.POST("/synonyms/:id/delete", s.consoleSynonymDelete)
	g.POST("/synonyms/import", s.consoleSynonymImport)
	g.GET("/synonyms.csv", s.synonymsCSV)
	g.GET("/search-misses", s.consoleMisses)
	g.POST("/search-misses/dismiss", s.consoleMissDismiss)
}

func (s *Server) bindSearchAdmin(g *echo.Group) {
	g.GET("/synonyms", s.apiSynonyms)
	g.POST("/synonyms", s.apiSynonymPut)
	g.DELETE("/synonyms/:id", s.apiSynonymDelete)
	g.POST("/synonyms/import", s.apiSynonymImport)
	g.GET("/synonyms.csv", s.synonymsCSV)
	g.GET("/search/misses", s.apiMisses)
}

// synonymsChanged puts an edited dictionary in force on this instance at
// once; the others follow the change log within seconds.
func (s *Server) synonymsChanged(c echo.Context) {
	if err := s.app.Follower.ReloadSynonyms(c.Request().Context()); err != nil {
		s.log.Warn("reload the synonym dictionary", "err", err)
	}
}

func (s *Server) consoleSynonyms(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	all, err := s.app.Synonyms.List(c.Request().Context())
	if err != nil {
		return err
	}
	filter := search.NormalizeTerm(c.QueryParam("q"))
	shown := all
	if filter != "" {
		shown = nil
		for _, e := range all {
			if strings.Contains(e.Term, filter) || strings.Contains(strings.Join(e.Synonyms, "|"), filter) {
				shown = append(shown, e)
			}
		}
	}
	data := map[string]any{"Entries": shown, "Count": len(all), "Filter": c.QueryParam("q"), "CanEdit": u.Role == auth.RoleBureauAdmin,
		"NewTerm": c.QueryParam("term")}
	return s.render(c, http.StatusOK, "synonyms", s.newPage(c, i18n.T(lang(c), "synonyms.title", nil), data))
}

func (s *Server) consoleSynonymPut(c echo.Context) error {
	u, err := bureauAdmin(c)
	if err != nil {
		return err
	}
	e := search.Synonym{Kind: c.FormValue("kind"), Term: c.FormValue("term"), Synonyms: synonyms.SplitList(c.FormValue("synonyms")), Note: c.FormValue("note")}
	if _, err := s.app.Synonyms.Put(c.Request().Context(), u.Username, e); err != nil {
		return err
	}
	s.synonymsChanged(c)
	return c.Redirect(http.StatusSeeOther, "/console/synonyms?done=1&q="+url.QueryEscape(e.Term))
}

func (s *Server) consoleSynonymDelete(c echo.Context) error {
	_, id, err := withID(c, bureauAdmin)
	if err != nil {
		return err
	}
	if err := s.app.Synonyms.Delete(c.Request().Context(), id); err != nil {
		return err
	}
	s.synonymsChanged(c)
	return c.Redirect(http.StatusSeeOther, "/console/synonyms?done=1")
}

// readSynonymCSV takes an uploaded file (field "file") or pasted text
// (field "csv").
func readSynonymCSV(c echo.Context) ([]search.Synonym, error) {
	if fh, err := c.FormFile("file"); err == nil {
		if fh.Size > synonyms.MaxCSVBytes {
			return nil, errs.Invalidf("err.synonyms.file_large", "kb", synonyms.MaxCSVBytes>>10)
		}
		f, err := fh.Open()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return synonyms.ParseCSV(f)
	}
	return synonyms.ParseCSV(strings.NewReader(c.FormValue("csv")))
}

func (s *Server) consoleSynonymImport(c echo.Context) error {
	u, err := bureauAdmin(c)
	if err != nil {
		return err
	}
	entries, err := readSynonymCSV(c)
	if err != nil {
		return err
	}
	if _, err := s.app.Synonyms.Import(c.Request().Context(), u.Username, entries, c.FormValue("replace") != ""); err != nil {
		return err
	}
	s.synonymsChanged(c)
	return c.Redirect(http.StatusSeeOther, "/console/synonyms?done=1")
}

// synonymsCSV exports the dictionary in the form the import reads.
func (s *Server) synonymsCSV(c echo.Context) error {
	if _, err := staff(c); err != nil {
		return err
	}
	all, err := s.app.Synonyms.List(c.Request().Context())
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="synonyms.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	return synonyms.WriteCSV(c.Response(), all)
}

func (s *Server) consoleMisses(c echo.Context) error {
	if _, err := bureauAdmin(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.app.Misses.Flush(ctx, s.app.DB); err != nil {
		s.log.Warn("flush zero-result searches", "err", err)
	}
	ms, err := synonyms.ListMisses(ctx, s.app.DB, 500)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "misses", s.newPage(c, i18n.T(lang(c), "misses.title", nil), map[string]any{"Misses": ms}))
}

func (s *Server) consoleMissDismiss(c echo.Context) error {
	if _, err := bureauAdmin(c); err != nil {
		return err
	}
	if err := synonyms.DismissMiss(c.Request().Context(), s.app.DB, c.FormValue("query")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console/search-misses?done=1")
}

func (s *Server) apiSynonyms(c echo.Context) error {
	if _, err := staff(c); err != nil {
		return err
	}
	all, err := s.app.Synonyms.List(c.Request().Context())
	if err != nil {
		return err
	}
	if all == nil {
		all = []search.Synonym{}
	}
	return c.JSON(http.StatusOK, map[string]any{"synonyms": all})
}

func (s *Server) apiSynonymPut(c echo.Context) error {
	u, err := bureauAdmin(c)
	if err != nil {
		return err
	}
	var e search.Synonym
	if err := bindJSON(c, &e); err != nil {
		return err
	}
	e, err = s.app.Synonyms.Put(c.Request().Context(), u.Username, e)
	if err != nil {
		return err
	}
	s.synonymsChanged(c)
	return c.JSON(http.StatusOK, e)
}

func (s *Server) apiSynonymDelete(c echo.Context) error {
	_, id, err := withID(c, bureauAdmin)
	if err != nil {
		return err
	}
	if err := s.app.Synonyms.Delete(c.Request().Context(), id); err != nil {
		return err
	}
	s.synonymsChanged(c)
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) apiSynonymImport(c echo.Context) error {
	u, err := bureauAdmin(c)
	if err != nil {
		return err
	}
	entries, err := synonyms.ParseCSV(io.LimitReader(c.Request().Body, synonyms.MaxCSVBytes+1))
	if err != nil {
		return err
	}
	replace, _ := strconv.ParseBool(c.QueryParam("replace"))
	n, err := s.app.Synonyms.Import(c.Request().Context(), u.Username, entries, replace)
	if err != nil {
		return err
	}
	s.synonymsChanged(c)
	return c.JSON(http.StatusOK, map[string]any{"imported": n, "replaced": replace})
}

func (s *Server) apiMisses(c echo.Context) error {
	if _, err := bureauAdmin(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.app.Misses.Flush(ctx, s.app.DB); err != nil {
		s.log.Warn("flush zero-result searches", "err", err)
	}
	ms, err := synonyms.ListMisses(ctx, s.app.DB, 500)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []synonyms.Miss{}
	}
	return c.JSON(http.StatusOK, map[string]any{"misses": ms})
}

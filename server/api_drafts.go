package server

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"opendata/errs"
	"opendata/ingest"
)

// Drafts: a sample file in, proposed data items out (ingest.DraftFile).

func (s *Server) bindDrafts(g *echo.Group) {
	g.POST("/catalog/drafts", s.postDraft)
}

// sampleForm is a multipart form with one file: its other fields, and the
// file spooled to a temporary file the caller removes.
type sampleForm struct {
	Fields url.Values
	Path   string // "" when no file was sent
	Name   string
}

func (f *sampleForm) remove() {
	if f.Path != "" {
		os.Remove(f.Path)
	}
}

// draftTooLarge is the refusal of a sample over ingest.DraftMaxBytes.
func draftTooLarge() error {
	return &errs.Public{Kind: errs.TooLarge, Code: "too_large", Key: "ingest.draft_too_large", Params: map[string]string{"mb": strconv.Itoa(ingest.DraftMaxBytes >> 20)}}
}

// readSampleForm reads a multipart body: the file part named fileField up
// to ingest.DraftMaxBytes, straight to disk, and the text fields (each up
// to 64 KiB, all together up to max_body_kb).
func (s *Server) readSampleForm(c echo.Context, fileField string) (*sampleForm, error) {
	fieldLimit := int64(s.app.Config.MaxBodyKB) << 10
	limit := int64(ingest.DraftMaxBytes) + fieldLimit + 1<<20
	req := c.Request()
	if req.ContentLength > limit {
		return nil, draftTooLarge()
	}
	req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
	mr, err := req.MultipartReader()
	if err != nil {
		return nil, &errs.Public{Kind: errs.Invalid, Key: "draft.multipart_expected"}
	}
	f := &sampleForm{Fields: url.Values{}}
	var fieldBytes int64
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.remove()
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, draftTooLarge()
			}
			return nil, &errs.Public{Kind: errs.Invalid, Key: "draft.multipart_expected"}
		}
		name := part.FormName()
		if name == fileField && f.Path == "" {
			_, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
			if params["filename"] == "" {
				continue // a file box left empty
			}
			fname, err := CheckUploadName(params["filename"])
			if err != nil {
				f.remove()
				return nil, err
			}
			tmp, err := os.CreateTemp(s.app.Ingest.Limits.TempDir, "draft-*")
			if err != nil {
				f.remove()
				return nil, err
			}
			f.Path, f.Name = tmp.Name(), fname
			n, err := io.Copy(tmp, io.LimitReader(part, int64(ingest.DraftMaxBytes)+1))
			tmp.Close()
			if err != nil || n > int64(ingest.DraftMaxBytes) {
				f.remove()
				var mbe *http.MaxBytesError
				if n > int64(ingest.DraftMaxBytes) || errors.As(err, &mbe) {
					return nil, draftTooLarge()
				}
				return nil, &errs.Public{Kind: errs.Invalid, Key: "draft.multipart_expected"}
			}
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, 64<<10))
		fieldBytes += int64(len(b))
		if err != nil || fieldBytes > fieldLimit {
			f.remove()
			return nil, bodyTooLarge(fieldLimit)
		}
		f.Fields.Add(name, string(b))
	}
	return f, nil
}

// draftError says a draft's refusal in the reader's words: the file's
// problem from the message catalog, anything else as it is (the error
// handler hides what is ours).
func draftError(err error) error {
	key, params := ingest.Reason(err)
	if key == "" {
		return err
	}
	kind := errs.KindOf(err)
	if kind == nil {
		kind = errs.Invalid
	}
	return &errs.Public{Kind: kind, Code: "invalid_file", Key: key, Params: params}
}

// draftFrom runs the draft of a received sample; format, encoding and
// sheet may be "" (detected, chosen).
func (s *Server) draftFrom(c echo.Context, f *sampleForm, lang, format, encoding, sheet string) (*ingest.Draft, error) {
	d, err := s.app.Ingest.DraftFile(c.Request().Context(), f.Path, f.Name, format, encoding, sheet)
	if err != nil {
		return nil, draftError(err)
	}
	d.Localize(lang)
	return d, nil
}

// postDraft: POST /api/v1/catalog/drafts, a multipart form with the sample
// as "file" (and optional format, encoding, sheet), for staff who keep the
// catalog. Nothing is stored.
func (s *Server) postDraft(c echo.Context) error {
	u, err := staff(c)
	if err != nil {
		return err
	}
	if err := mayCreate(u); err != nil { // before the body is read
		return err
	}
	f, err := s.readSampleForm(c, "file")
	if err != nil {
		return err
	}
	defer f.remove()
	if f.Path == "" {
		return errs.FieldErrors{"file": "draft.missing_file"}
	}
	d, err := s.draftFrom(c, f, apiLang(c),
		strings.TrimSpace(f.Fields.Get("format")), strings.TrimSpace(f.Fields.Get("encoding")), strings.TrimSpace(f.Fields.Get("sheet")))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

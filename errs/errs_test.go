package errs_test

import (
	"errors"
	"fmt"
	"testing"

	"opendata/errs"
)

func TestDetail(t *testing.T) {
	driver := errors.New("sql: no rows in result set")
	for _, c := range []struct {
		err  error
		want string
	}{
		{errs.Internal(errs.NotFound, driver), ""},
		{fmt.Errorf("get resource 5: %w", errs.Internal(errs.NotFound, driver)), "get resource 5"},
		{fmt.Errorf("random.csv: %w", fmt.Errorf("%w: the file is not text", errs.Invalid)), "random.csv: the file is not text"},
		{errs.NotFoundf("dataset %d", 7), "dataset 7"},
		{errs.Conflict, ""},
		{&errs.Duplicate{Table: "departments", Columns: []string{"code"}, Cause: errors.New("UNIQUE constraint failed")}, ""},
		{errs.FieldErrors{"code": "required"}, ""},
		{errors.New("plain"), ""},
	} {
		if got := errs.Detail(c.err); got != c.want {
			t.Errorf("Detail(%q) = %q, want %q", c.err, got, c.want)
		}
		if errs.KindOf(c.err) == nil && c.want != "" {
			t.Errorf("%q has no kind", c.err)
		}
	}
	if !errors.Is(errs.Internal(errs.Unavailable, driver), driver) {
		t.Error("Internal hides the cause from errors.Is")
	}
}

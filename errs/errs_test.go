package errs_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"opendata/errs"
	"opendata/i18n"
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

func TestCatalogMessages(t *testing.T) {
	err := errs.Forbiddenf("err.role_refused", "role", errs.Key("role.dept_staff"))
	var pub *errs.Public
	if !errors.As(err, &pub) || !errors.Is(err, errs.Forbidden) || !pub.AsDetail {
		t.Fatalf("not a Forbidden catalog message: %#v", err)
	}
	if got := pub.Text("zh-CN"); got != "您的角色（部门工作人员）无权进行此操作" {
		t.Errorf("zh: %q", got)
	}
	if got := pub.Text("en"); got != "your role (department staff) may not do this" {
		t.Errorf("en: %q", got)
	}
	if got := err.Error(); got != "forbidden: your role (department staff) may not do this" {
		t.Errorf("Error() is the English text for logs: %q", got)
	}
	n := errs.NotFoundf("err.dataset_not_found", "id", 6).(*errs.Public)
	if got := n.Text("zh-CN"); got != "没有编号为 6 的数据集" {
		t.Errorf("params: %q", got)
	}
	// A first argument that is no key is an old-style format: English, and
	// TestErrorKeysAreInTheCatalog refuses it in the source.
	if got := errs.Invalidf("row %d: bad", 3).Error(); got != "invalid argument: row 3: bad" {
		t.Errorf("legacy: %q", got)
	}
}

// Every catalog error raised in the source names a key both catalogs have,
// with its parameters in pairs, and no code wraps a kind around English
// text for people (fmt.Errorf("%w: …", errs.X)) outside the command-line
// tools' packages.
func TestErrorKeysAreInTheCatalog(t *testing.T) {
	call := regexp.MustCompile(`errs\.(Invalidf|NotFoundf|Forbiddenf|Unauthenticatedf|Conflictf|TooLargef|Unavailablef|RateLimitedf)\(("[^"]*")([^\n]*)`)
	// errs.Fieldf(field, "key", …): the key comes second.
	field := regexp.MustCompile(`errs\.(Fieldf)\((?:"[^"]*"|[A-Za-z_][\w.]*), ("[^"]*")([^\n]*)`)
	wrap := regexp.MustCompile(`fmt\.Errorf\("%w: [^\n]*errs\.(NotFound|Invalid|Conflict|Forbidden|Unauthenticated|TooLarge|Unavailable|RateLimited)\b`)
	// Text for the operator at the command line or the log, never a person on the web.
	cli := map[string]bool{"backup": true, "jobs": true, "errs": true}
	n := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "..") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pkg := strings.Split(filepath.ToSlash(strings.TrimPrefix(path, "../")), "/")[0]
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range append(call.FindAllStringSubmatch(line, -1), field.FindAllStringSubmatch(line, -1)...) {
				n++
				key, _ := strconv.Unquote(m[2])
				if !i18n.Has(key) || strings.HasPrefix(i18n.T(i18n.EN, key, nil), i18n.Missing) {
					t.Errorf("%s:%d: errs.%s(%q): not a key of both catalogs (i18n/locales/*/errors.json)", path, i+1, m[1], key)
				}
				if args := strings.Count(strings.SplitN(m[3], "))", 2)[0], ", "); strings.HasPrefix(m[3], ", ") && args%2 != 0 {
					t.Errorf("%s:%d: errs.%s(%q): parameters come in name, value pairs", path, i+1, m[1], key)
				}
			}
			if wrap.MatchString(line) && !cli[pkg] {
				t.Errorf("%s:%d: English text wrapped in a kind reaches people; use errs.%sf with a catalog key", path, i+1, wrap.FindStringSubmatch(line)[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("found only %d calls: is the walk looking at the module?", n)
	}
}

// Every field error's text in the source is a message key of both catalogs
// (or i18n.Msg of one, with its parameters): a field error is shown to
// people next to the field, in their language.
func TestFieldErrorsAreKeys(t *testing.T) {
	literal := regexp.MustCompile(`(?:FieldErrors\{[^{}\n:]+:\s*|fe\[[^\]]+\]\s*=\s*)("[^"]*"|fmt\.Sprintf\(|[^,}\n]+ \+ )`)
	msg := regexp.MustCompile(`i18n\.Msg\(("[^"]*")`)
	cli := map[string]bool{"backup": true, "jobs": true, "errs": true, "cmd": true}
	n := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "..") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if cli[strings.Split(filepath.ToSlash(strings.TrimPrefix(path, "../")), "/")[0]] {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range literal.FindAllStringSubmatch(line, -1) {
				n++
				key, err := strconv.Unquote(m[1])
				if err != nil {
					t.Errorf("%s:%d: a field error built from text (%s…); use a key or i18n.Msg", path, i+1, m[1])
					continue
				}
				if !i18n.Has(key) {
					t.Errorf("%s:%d: field error %q is not a message key", path, i+1, key)
				}
			}
			for _, m := range msg.FindAllStringSubmatch(line, -1) {
				n++
				if key, _ := strconv.Unquote(m[1]); !i18n.Has(key) || strings.HasPrefix(i18n.T(i18n.EN, key, nil), i18n.Missing) {
					t.Errorf("%s:%d: i18n.Msg(%q): not a key of both catalogs", path, i+1, key)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("found only %d field errors: is the walk looking at the module?", n)
	}
}

// Command opendata is the whole platform in one binary. This file only wires
// subcommands to the packages that do the work.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"opendata/app"
	"opendata/audit"
	"opendata/auth"
	"opendata/calendar"
	"opendata/catalog"
	"opendata/config"
	"opendata/demo"
	"opendata/errs"
	"opendata/i18n"
	"opendata/ingest"
	"opendata/publish"
	"opendata/search"
	"opendata/server"
	"opendata/synonyms"
)

const usage = `opendata — government open-data platform

Usage:
  opendata serve [--demo]             run the portal, APIs and background workers
  opendata migrate                    create or update the database schema
  opendata demo                       load the demo city (departments, catalog, data)
  opendata user create|list|passwd    manage staff accounts
  opendata department create|list     manage departments
  opendata catalog create|update|list|show|history
                                      manage catalog entries (JSON files)
  opendata catalog draft FILE [--json]
                                      propose an entry's data items from a sample file
  opendata ingest --resource CODE FILE
                                      turn a file into a new version of a resource
  opendata reindex                    rebuild the search index from the database
  opendata audit verify|checkpoint|rotate-key|export  check the keyed chain (and the last checkpoint); sign the head to object storage; add a key; CSV
  opendata calendar seed|import|show  working-day calendar (holidays, make-up days)
  opendata synonyms list|add|delete|import|export
                                      the search synonym dictionary
  opendata key list|create|revoke|tier|activate
                                      developer accounts and API keys (the bureau)
  opendata backup DIR|s3://bucket/prefix
                                      consistent snapshot: database, objects, audit head
  opendata restore DIR|s3://bucket/prefix
                                      rebuild an empty installation from a backup
  opendata config                     list every configuration option

Configuration comes from OPENDATA_* environment variables and an optional
TOML file named by --config or OPENDATA_CONFIG; "opendata config" lists them.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, rest := args[0], args[1:]
	// --config may come before or after the subcommand.
	cfgPath := os.Getenv("OPENDATA_CONFIG")
	for i := 0; i < len(rest); i++ {
		if rest[i] == "--config" && i+1 < len(rest) {
			cfgPath = rest[i+1]
			rest = append(rest[:i:i], rest[i+2:]...)
			break
		}
		if v, ok := strings.CutPrefix(rest[i], "--config="); ok {
			cfgPath = v
			rest = append(rest[:i:i], rest[i+1:]...)
			break
		}
	}
	if cmd == "config" {
		fmt.Fprint(stdout, config.Markdown())
		return 0
	}
	cfg, err := config.Load(cfgPath, os.Environ())
	if err != nil {
		fmt.Fprintln(stderr, "configuration:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, ok := commands[cmd]
	if !ok {
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err := c.exec(ctx, cfg, append([]string{cmd}, rest...), stdout, stderr); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(stderr, err)
			return 2
		}
		fmt.Fprintln(stderr, "error:", describe(err))
		return 1
	}
	return 0
}

// describe is an error for the operator, message keys rendered in
// Chinese when $LANG says so, in English otherwise.
func describe(err error) string {
	lang := i18n.EN
	if strings.HasPrefix(strings.ToLower(os.Getenv("LANG")), "zh") {
		lang = i18n.ZH
	}
	var fe errs.FieldErrors
	var pub *errs.Public
	if errors.As(err, &pub) {
		return pub.Text(lang)
	}
	if errors.As(err, &fe) {
		keys := make([]string, 0, len(fe))
		for k := range fe {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteString("invalid fields:")
		for _, k := range keys {
			fmt.Fprintf(&b, "\n  %s: %s", k, i18n.Text(lang, fe[k]))
		}
		return b.String()
	}
	return err.Error()
}

// serve runs the server (the whole app, search index included).
func serve(cl *call) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	withDemo := fs.Bool("demo", cl.cfg.Demo, "load demo data when the database has no departments")
	if err := fs.Parse(cl.args[1:]); err != nil {
		return usageError{err.Error()}
	}
	if *withDemo {
		loaded, err := demo.LoadIfEmpty(cl.ctx, cl.a, cl.stderr)
		if err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		if loaded {
			fmt.Fprintf(cl.stderr, "demo data loaded; staff login: %s / %s (bureau admin)\n", demo.AdminUser, demo.AdminPassword)
		}
	}
	ln, err := net.Listen("tcp", cl.cfg.Listen)
	if err != nil {
		return err
	}
	return server.New(cl.a).Run(cl.ctx, ln)
}

func migrate(cl *call) error {
	v, err := cl.a.DB.SchemaVersion(cl.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "database schema is at version %d (%s)\n", v, cl.a.DB.Dialect)
	return nil
}

func loadDemo(cl *call) error {
	loaded, err := demo.LoadIfEmpty(cl.ctx, cl.a, cl.stderr)
	if err != nil {
		return err
	}
	if !loaded {
		fmt.Fprintln(cl.stdout, "the database already has departments; demo data not loaded")
		return nil
	}
	fmt.Fprintf(cl.stdout, "demo city loaded; staff login: %s / %s (bureau admin)\n", demo.AdminUser, demo.AdminPassword)
	return nil
}

func readPassword(fromStdin bool) (string, error) {
	if fromStdin || !term.IsTerminal(int(os.Stdin.Fd())) {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 4096))
		return strings.TrimRight(string(b), "\r\n"), err
	}
	fmt.Fprint(os.Stderr, "password: ")
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	return string(b), err
}

// cmdUser is "opendata user …".
var cmdUser = group{usage: "usage: opendata user create|list|passwd …", subs: map[string]func(*call) error{
	"create": userCreate,
	"list":   userList,
	"passwd": userPasswd,
}}

func userCreate(cl *call) error {
	ctx, a, args, stdout := cl.ctx, cl.a, cl.args, cl.stdout
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	name := fs.String("username", "", "login name")
	display := fs.String("name", "", "display name")
	role := fs.String("role", "dept_staff", "dept_staff, dept_admin, bureau_admin or office")
	dept := fs.String("department", "", "department code (department roles)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	n := auth.NewUser{Username: *name, DisplayName: *display, Role: auth.Role(*role)}
	if *dept != "" {
		d, err := a.Catalog.GetDepartmentByCode(ctx, *dept)
		if err != nil {
			return err
		}
		n.DepartmentID = d.ID
	}
	var err error
	if n.Password, err = readPassword(*pwStdin); err != nil {
		return err
	}
	u, err := a.Users.CreateUser(ctx, n)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %s (id %d, %s)\n", u.Username, u.ID, u.Role)
	return nil
}

func userList(cl *call) error {
	ctx, a, stdout := cl.ctx, cl.a, cl.stdout
	users, err := a.Users.ListUsers(ctx, 0)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tROLE\tDEPARTMENT\tACTIVE")
	for _, u := range users {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%v\n", u.ID, u.Username, u.Role, u.DepartmentID, u.Active)
	}
	tw.Flush()
	return nil
}

func userPasswd(cl *call) error {
	ctx, a, args, stdout := cl.ctx, cl.a, cl.args, cl.stdout
	fs := flag.NewFlagSet("user passwd", flag.ContinueOnError)
	name := fs.String("username", "", "login name")
	pwStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	u, err := a.Users.GetUserByName(ctx, *name)
	if err != nil {
		return err
	}
	pw, err := readPassword(*pwStdin)
	if err != nil {
		return err
	}
	if err := a.Users.SetPassword(ctx, u.ID, pw); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "password changed for %s; their sessions are ended\n", u.Username)
	return nil
}

// cmdDepartment is "opendata department …".
var cmdDepartment = group{usage: "usage: opendata department create|list …", subs: map[string]func(*call) error{
	"create": departmentCreate,
	"list":   departmentList,
}}

func departmentCreate(cl *call) error {
	ctx, a, args, stdout := cl.ctx, cl.a, cl.args, cl.stdout
	fs := flag.NewFlagSet("department create", flag.ContinueOnError)
	var d catalog.Department
	fs.StringVar(&d.Code, "code", "", "unique code")
	fs.StringVar(&d.Name, "name", "", "name (Chinese)")
	fs.StringVar(&d.NameEn, "name-en", "", "name (English)")
	fs.StringVar(&d.Kind, "kind", "department", "department, town, bureau or office")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	d, err := a.Catalog.CreateDepartment(ctx, d)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created department %s %s (id %d)\n", d.Code, d.Name, d.ID)
	return nil
}

func departmentList(cl *call) error {
	ctx, a, stdout := cl.ctx, cl.a, cl.stdout
	ds, err := a.Catalog.ListDepartments(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCODE\tKIND\tNAME")
	for _, d := range ds {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", d.ID, d.Code, d.Kind, d.Name)
	}
	tw.Flush()
	return nil
}

// actorFlag resolves --as USERNAME (default: the system operator).
func actorFor(ctx context.Context, a *app.App, name string) (auth.Actor, error) {
	if name == "" {
		return auth.System, nil
	}
	u, err := a.Users.GetUserByName(ctx, name)
	if err != nil {
		return auth.Actor{}, err
	}
	return u.Actor(), nil
}

func resolveResource(ctx context.Context, a *app.App, ref string) (catalog.Resource, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return a.Catalog.GetResource(ctx, id)
	}
	return a.Catalog.GetResourceByCode(ctx, ref)
}

func readEntry(path string) (catalog.Entry, error) {
	var e catalog.Entry
	b, err := os.ReadFile(path)
	if err != nil {
		return e, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// cmdCatalog is "opendata catalog …".
const catalogUsage = "usage: opendata catalog create --file ENTRY.json | update REF --file ENTRY.json | list | show REF | history REF  [--as USERNAME] | draft FILE [--json]"

var cmdCatalog = group{usage: catalogUsage, subs: map[string]func(*call) error{
	"create":  catalogCreate,
	"update":  catalogUpdate,
	"list":    catalogList,
	"show":    catalogShow,
	"history": catalogHistory,
}, offline: map[string]func(*call) error{
	"draft": catalogDraft,
}}

// catalogArgs parses a catalog subcommand's REF operand (before the flags)
// and its --file and --as flags, and finds the acting user.
func catalogArgs(cl *call) (ref, file string, actor auth.Actor, err error) {
	fs := flag.NewFlagSet("catalog "+cl.args[0], flag.ContinueOnError)
	f := fs.String("file", "", "catalog entry as JSON")
	as := fs.String("as", "", "act as this staff user (history records them)")
	rest := cl.args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		ref, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return "", "", auth.Actor{}, usageError{err.Error()}
	}
	actor, err = actorFor(cl.ctx, cl.a, *as)
	return ref, *f, actor, err
}

func catalogCreate(cl *call) error {
	_, file, actor, err := catalogArgs(cl)
	if err != nil {
		return err
	}
	e, err := readEntry(file)
	if err != nil {
		return err
	}
	r, err := cl.a.Catalog.CreateResource(cl.ctx, actor, e)
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "created resource %s (id %d)\n", r.Code, r.ID)
	return nil
}

func catalogUpdate(cl *call) error {
	ref, file, actor, err := catalogArgs(cl)
	if err != nil {
		return err
	}
	r, err := resolveResource(cl.ctx, cl.a, ref)
	if err != nil {
		return err
	}
	e, err := readEntry(file)
	if err != nil {
		return err
	}
	// A change that widens who reads the data waits for review; a running
	// server's search follows through the change log.
	r, pending, err := cl.a.Publish.Edit(cl.ctx, actor, r.ID, 0, e)
	if err != nil {
		return err
	}
	if pending != nil {
		fmt.Fprintf(cl.stdout, "resource %s: the change widens who reads its data (%s); filed for review as pending edit %d, nothing changed yet\n",
			r.Code, strings.Join(pending.Widens, ", "), pending.ID)
		return nil
	}
	fmt.Fprintf(cl.stdout, "updated resource %s, now revision %d\n", r.Code, r.Revision)
	return nil
}

func catalogList(cl *call) error {
	if _, _, _, err := catalogArgs(cl); err != nil {
		return err
	}
	rs, total, err := cl.a.Catalog.ListResources(cl.ctx, catalog.Filter{Limit: 1000})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(cl.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCODE\tSHARE\tOPEN\tVERSION\tNAME")
	for _, r := range rs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", r.ID, r.Code, r.ShareType, r.OpenType, r.LatestVersion, r.Name)
	}
	tw.Flush()
	fmt.Fprintf(cl.stdout, "%d resources\n", total)
	return nil
}

func catalogShow(cl *call) error {
	ref, _, _, err := catalogArgs(cl)
	if err != nil {
		return err
	}
	r, err := resolveResource(cl.ctx, cl.a, ref)
	if err != nil {
		return err
	}
	return printJSON(cl.stdout, r)
}

func catalogHistory(cl *call) error {
	ref, _, _, err := catalogArgs(cl)
	if err != nil {
		return err
	}
	r, err := resolveResource(cl.ctx, cl.a, ref)
	if err != nil {
		return err
	}
	h, err := cl.a.Catalog.History(cl.ctx, r.ID)
	if err != nil {
		return err
	}
	return printJSON(cl.stdout, h)
}

const ingestUsage = "usage: opendata ingest --resource CODE [--format F] [--encoding E] [--sheet S] [--max-reject-ratio R] [--json] FILE"

func ingestFile(cl *call) error {
	ctx, a, args, stdout, stderr := cl.ctx, cl.a, cl.args[1:], cl.stdout, cl.stderr
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	res := fs.String("resource", "", "resource code or id")
	format := fs.String("format", "", "csv, xlsx, json or ndjson (default: from the file name)")
	enc := fs.String("encoding", "", "utf-8, gbk or gb18030 (default: detected)")
	sheet := fs.String("sheet", "", "XLSX sheet name or number (default: the sheet that holds the table)")
	var ratio *float64
	fs.Func("max-reject-ratio", "largest share of rows that may be rejected, 0.05 or 5% (default: max_reject_ratio)", func(v string) error {
		f, err := config.ParseRatio(v)
		if err != nil {
			return err
		}
		ratio = &f
		return nil
	})
	asJSON := fs.Bool("json", false, "print the result as one JSON document")
	as := fs.String("as", "", "act as this staff user")
	lang := fs.String("lang", "zh-CN", "language of messages: zh-CN or en")
	file, err := parseFile(fs, args, ingestUsage)
	if err != nil {
		return err
	}
	if *res == "" {
		return usageError{ingestUsage}
	}
	r, err := resolveResource(ctx, a, *res)
	if err != nil {
		return err
	}
	actor, err := actorFor(ctx, a, *as)
	if err != nil {
		return err
	}
	var bar *progressbar.ProgressBar
	showBar := !*asJSON || term.IsTerminal(int(os.Stderr.Fd()))
	if showBar {
		st, err := os.Stat(file)
		if err != nil {
			return err
		}
		bar = progressbar.NewOptions64(st.Size(), progressbar.OptionSetWriter(stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("scan"), progressbar.OptionThrottle(100_000_000), progressbar.OptionClearOnFinish())
	}
	out, err := a.Ingest.Ingest(ctx, actor, ingest.Request{
		ResourceID: r.ID, Path: file, Name: filepath.Base(file), Format: *format, Encoding: *enc, Sheet: *sheet, Lang: i18n.Lang(*lang), MaxRejectRatio: ratio,
		Progress: func(p ingest.Progress) {
			if bar != nil {
				bar.Describe(fmt.Sprintf("%-8s %d rows", p.Phase, p.Rows))
				if p.Bytes > 0 {
					bar.Set64(p.Bytes)
				}
			}
		},
	})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		text, internal := ingest.Explain(i18n.Lang(*lang), err)
		if internal { // the operator is the administrator: say the cause too
			text += " (" + err.Error() + ")"
		}
		err = errors.New(text)
	}
	if *asJSON {
		doc := map[string]any{"ok": err == nil, "result": out}
		if err != nil {
			doc["error"] = err.Error()
		}
		printJSON(stdout, doc)
		return err
	}
	for _, m := range out.Rejected {
		fmt.Fprintln(stderr, "rejected:", m.Message)
	}
	for _, m := range out.Warnings {
		fmt.Fprintln(stderr, "note:", m.Message)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s v%d: %d rows stored, %d rejected, quality %.1f\n", r.Code, out.Version, out.RowsStored, out.RowsRejected, out.Quality.Score)
	if len(out.Masked)+len(out.Dropped) > 0 {
		fmt.Fprintf(stdout, "open variant: masked %v, dropped %v\n", out.Masked, out.Dropped)
	}
	return nil
}

// reindex rebuilds the search index. Beside a running server that
// holds the embedded index it does not wait: it asks the server (and every
// other instance) to rebuild through the change log.
func reindex(cl *call) error {
	ctx, cfg, a, stdout, stderr := cl.ctx, cl.cfg, cl.a, cl.stdout, cl.stderr
	var idx search.Index
	var err error
	if cfg.SearchBackend == "meilisearch" {
		idx, err = search.OpenMeili(ctx, cfg.MeiliURL, cfg.MeiliKey, cfg.MeiliIndex)
	} else {
		idx, err = search.OpenBleve(app.BlevePath(cfg))
	}
	if errors.Is(err, search.ErrLocked) {
		seq, err := a.Publish.RequestRebuild(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "a running server holds the search index: it will rebuild it from the database within seconds (change log entry %d)\n", seq)
		return nil
	}
	if err != nil {
		return err
	}
	defer idx.Close()
	if err := idx.Ping(ctx); err != nil {
		return err
	}
	latest, err := publish.LatestChange(ctx, a.DB)
	if err != nil {
		return err
	}
	svc := *a.Publish
	svc.Index = idx
	var bar *progressbar.ProgressBar
	n, err := svc.ReindexAll(ctx, func(done, total int) {
		if bar == nil {
			bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("reindex"))
		}
		bar.Set(done)
	})
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	if p, ok := idx.(search.Positioned); ok {
		// Changes made during the rebuild are applied again by the next
		// server to start: harmless.
		if err := p.SetPosition(latest); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "search index rebuilt: %d public resources\n", n)
	return nil
}

// cmdAudit is "opendata audit …".
var cmdAudit = group{usage: "usage: opendata audit verify | checkpoint | rotate-key | export > audit.csv", subs: map[string]func(*call) error{
	"verify":     auditVerify,
	"export":     auditExport,
	"checkpoint": auditCheckpoint,
}, offline: map[string]func(*call) error{
	"rotate-key": auditRotateKey,
}}

// auditRotateKey adds a key to the key file; the old keys stay in it: they
// verify the events they signed.
func auditRotateKey(cl *call) error {
	if err := audit.AddKey(cl.cfg.AuditKeyFile); err != nil {
		return err
	}
	k, err := audit.LoadKeyFile(cl.cfg.AuditKeyFile, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "new audit key %s added to %s (%d keys); copy the file to every instance and restart them\n", k.Current(), cl.cfg.AuditKeyFile, len(k.IDs()))
	return nil
}

func auditExport(cl *call) error {
	evs, err := cl.a.Audit.List(cl.ctx, audit.Filter{Limit: 10000})
	if err != nil {
		return err
	}
	return audit.WriteCSV(cl.stdout, evs)
}

func auditCheckpoint(cl *call) error {
	c, err := cl.a.Audit.Checkpoint(cl.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "audit checkpoint written: %d events, head %s, signed with key %s\n", c.Count, c.Hash, c.KeyID)
	return nil
}

func auditVerify(cl *call) error {
	p, n, err := cl.a.Audit.Verify(cl.ctx)
	if err != nil {
		return err
	}
	if p != nil {
		return fmt.Errorf("audit log NOT intact after checking %d events: %w", n, p)
	}
	cp := "no checkpoint yet (opendata audit checkpoint)"
	if c, _ := cl.a.Audit.LatestCheckpoint(cl.ctx); c != nil {
		cp = fmt.Sprintf("matches the signed checkpoint of %s (%d events)", c.At.Format(time.RFC3339), c.Count)
	}
	fmt.Fprintf(cl.stdout, "audit log intact: %d events, hash chain verified; %s\n", n, cp)
	return nil
}

// cmdCalendar is "opendata calendar …".
const calendarUsage = "usage: opendata calendar seed [--from Y --to Y] | import FILE.csv | show YEAR"

var cmdCalendar = group{usage: calendarUsage, subs: map[string]func(*call) error{
	"seed":   calendarSeed,
	"import": calendarImport,
	"show":   calendarShow,
}}

func calendarSeed(cl *call) error {
	ctx, cfg, a, args, stdout, stderr := cl.ctx, cl.cfg, cl.a, cl.args, cl.stdout, cl.stderr
	store := &calendar.Store{DB: a.DB}
	fs := flag.NewFlagSet("calendar seed", flag.ContinueOnError)
	now := time.Now().Year()
	from := fs.Int("from", now-3, "first year")
	to := fs.Int("to", now+1, "last year")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	loaded, err := store.Seed(ctx, *from, *to)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loaded holidays for %v\n", loaded)
	c, _ := store.Load(ctx, cfg.Location())
	if m := c.MissingYears(*from, *to); len(m) > 0 {
		fmt.Fprintf(stderr, "warning: no holiday data for %v: deadlines in those years count plain weekdays; import the State Council notice with \"opendata calendar import\"\n", m)
	}
	return nil
}

func calendarImport(cl *call) error {
	ctx, a, args, stdout := cl.ctx, cl.a, cl.args, cl.stdout
	store := &calendar.Store{DB: a.DB}
	if len(args) < 2 {
		return usageError{calendarUsage}
	}
	f, err := os.Open(args[1])
	if err != nil {
		return err
	}
	defer f.Close()
	years, err := calendar.ParseCSV(f)
	if err != nil {
		return fmt.Errorf("%s: %w", args[1], err)
	}
	for y, days := range years {
		if err := store.ReplaceYear(ctx, y, days, filepath.Base(args[1])); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d: %d days imported\n", y, len(days))
	}
	return nil
}

func calendarShow(cl *call) error {
	ctx, cfg, a, args, stdout, stderr := cl.ctx, cl.cfg, cl.a, cl.args, cl.stdout, cl.stderr
	store := &calendar.Store{DB: a.DB}
	if len(args) < 2 {
		return usageError{calendarUsage}
	}
	y, err := strconv.Atoi(args[1])
	if err != nil {
		return usageError{calendarUsage}
	}
	c, err := store.Load(ctx, cfg.Location())
	if err != nil {
		return err
	}
	if len(c.MissingYears(y, y)) > 0 {
		fmt.Fprintf(stderr, "warning: no holiday data for %d\n", y)
	}
	for _, d := range calendar.FromLunar(y) {
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", d.Date, d.Kind, d.Name)
	}
	return nil
}

const keyUsage = `usage: opendata key list
       opendata key create --user EMAIL --name NAME [--days N]   (prints the key once)
       opendata key revoke ID
       opendata key tier ID registered|partner
       opendata key activate EMAIL                              (activate a developer account)`

// cmdKey is the bureau's command line for developer accounts and keys;
// every action is audited as the system actor's.
// cmdKey is "opendata key …".
var cmdKey = group{usage: keyUsage, subs: map[string]func(*call) error{
	"list":     keyList,
	"create":   keyCreate,
	"revoke":   keyRevoke,
	"tier":     keyRevoke,
	"activate": keyActivate,
}}

func keyList(cl *call) error {
	ctx, a, stdout := cl.ctx, cl.a, cl.stdout
	keys, err := a.Access.ListKeys(ctx, 0)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tOWNER\tNAME\tPREFIX\tTIER\tSTATUS\tEXPIRES")
	now := time.Now()
	for _, k := range keys {
		exp := "-"
		if k.ExpiresAt != nil {
			exp = k.ExpiresAt.Format("2006-01-02")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s…\t%s\t%s\t%s\n", k.ID, k.Owner, k.Name, k.Prefix, k.Tier, k.Status(now), exp)
	}
	tw.Flush()
	return nil
}

func keyCreate(cl *call) error {
	ctx, a, args, stdout, stderr := cl.ctx, cl.a, cl.args, cl.stdout, cl.stderr
	fs := flag.NewFlagSet("key create", flag.ContinueOnError)
	user := fs.String("user", "", "the developer's e-mail")
	name := fs.String("name", "", "what the key is for")
	days := fs.Int("days", 0, "lifetime in days (0: the longest allowed)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	u, err := a.Users.GetUserByName(ctx, strings.ToLower(*user))
	if err != nil {
		return err
	}
	k, token, err := a.Access.CreateKey(ctx, u, *name, *days)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "key %d for %s; shown this once:\n", k.ID, u.Username)
	fmt.Fprintln(stdout, token)
	return nil
}

func keyRevoke(cl *call) error {
	ctx, a, args, stdout := cl.ctx, cl.a, cl.args, cl.stdout
	bureau := auth.User{Username: auth.System.Name, Role: auth.RoleBureauAdmin}
	if len(args) < 2 || (args[0] == "tier" && len(args) < 3) {
		return usageError{keyUsage}
	}
	id, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		return usageError{"the key ID is a number"}
	}
	if args[0] == "revoke" {
		if err := a.Access.RevokeKey(ctx, bureau, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %d revoked\n", id)
		return nil
	}
	k, err := a.Access.SetTier(ctx, bureau, id, args[2])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "key %d is now %s\n", k.ID, k.Tier)
	return nil
}

func keyActivate(cl *call) error {
	ctx, a, args, stdout := cl.ctx, cl.a, cl.args, cl.stdout
	bureau := auth.User{Username: auth.System.Name, Role: auth.RoleBureauAdmin}
	if len(args) < 2 {
		return usageError{keyUsage}
	}
	u, err := a.Users.GetUserByName(ctx, strings.ToLower(args[1]))
	if err != nil {
		return err
	}
	if _, err := a.Access.SetDeveloperActive(ctx, bureau, u.ID, true); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "developer %s activated\n", u.Username)
	return nil
}

const synonymsUsage = `usage: opendata synonyms list [TEXT]
       opendata synonyms add TERM SYNONYM[|SYNONYM…] [--oneway] [--note NOTE]
       opendata synonyms delete TERM
       opendata synonyms import FILE.csv [--replace]   (columns kind,term,synonyms,note)
       opendata synonyms export > synonyms.csv`

// cmdSynonyms edits the search dictionary; a running server (every
// instance) searches with the change within seconds, through the change log.
// cmdSynonyms is "opendata synonyms …".
var cmdSynonyms = group{usage: synonymsUsage, subs: map[string]func(*call) error{
	"list":   synonymsList,
	"add":    synonymsAdd,
	"delete": synonymsDelete,
	"import": synonymsImport,
	"export": synonymsExport,
}}

func synonymsList(cl *call) error {
	ctx, a, args, stdout := cl.ctx, cl.a, cl.args, cl.stdout
	store := a.Synonyms
	all, err := store.List(ctx)
	if err != nil {
		return err
	}
	filter := ""
	if len(args) > 1 {
		filter = search.NormalizeTerm(args[1])
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TERM\tKIND\tSYNONYMS\tNOTE")
	for _, e := range all {
		if filter != "" && !strings.Contains(e.Term+"|"+strings.Join(e.Synonyms, "|"), filter) {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Term, e.Kind, strings.Join(e.Synonyms, "|"), e.Note)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d entries\n", len(all))
	return nil
}

func synonymsAdd(cl *call) error {
	ctx, a, args, stdout := cl.ctx, cl.a, cl.args, cl.stdout
	store := a.Synonyms
	fs := flag.NewFlagSet("synonyms add", flag.ContinueOnError)
	oneway := fs.Bool("oneway", false, "the term finds its synonyms, not the reverse")
	note := fs.String("note", "", "why (简称, 旧称 …)")
	var pos []string
	rest := args[1:]
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		pos, rest = append(pos, rest[0]), rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return usageError{err.Error()}
	}
	pos = append(pos, fs.Args()...)
	if len(pos) != 2 {
		return usageError{synonymsUsage}
	}
	e := search.Synonym{Kind: search.SynonymEquivalent, Term: pos[0], Synonyms: synonyms.SplitList(pos[1]), Note: *note}
	if *oneway {
		e.Kind = search.SynonymOneWay
	}
	e, err := store.Put(ctx, auth.System.Name, e)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s (%s): %s\n", e.Term, e.Kind, strings.Join(e.Synonyms, "|"))
	return nil
}

func synonymsDelete(cl *call) error {
	ctx, a, args, stdout := cl.ctx, cl.a, cl.args, cl.stdout
	store := a.Synonyms
	if len(args) != 2 {
		return usageError{synonymsUsage}
	}
	all, err := store.List(ctx)
	if err != nil {
		return err
	}
	term := search.NormalizeTerm(args[1])
	for _, e := range all {
		if e.Term == term {
			if err := store.Delete(ctx, e.ID); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "deleted %s\n", term)
			return nil
		}
	}
	return fmt.Errorf("no entry for %q", args[1])
}

func synonymsImport(cl *call) error {
	ctx, a, args, stdout := cl.ctx, cl.a, cl.args, cl.stdout
	store := a.Synonyms
	fs := flag.NewFlagSet("synonyms import", flag.ContinueOnError)
	replace := fs.Bool("replace", false, "replace the whole dictionary")
	file, err := parseFile(fs, args[1:], synonymsUsage)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	entries, err := synonyms.ParseCSV(f)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	n, err := store.Import(ctx, auth.System.Name, entries, *replace)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d entries imported\n", n)
	return nil
}

func synonymsExport(cl *call) error {
	ctx, a, stdout := cl.ctx, cl.a, cl.stdout
	store := a.Synonyms
	all, err := store.List(ctx)
	if err != nil {
		return err
	}
	return synonyms.WriteCSV(stdout, all)
}

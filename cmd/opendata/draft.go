package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"opendata/i18n"
	"opendata/ingest"
)

// catalogDraft proposes a catalog entry's data items from a sample
// file (no database needed): a table for people, or the JSON the API
// answers (its "items" and "key_columns" go straight into an entry file).
func catalogDraft(cl *call) error {
	ctx, cfg, args, stdout, stderr := cl.ctx, cl.cfg, cl.args[1:], cl.stdout, cl.stderr
	const u = "usage: opendata catalog draft FILE [--format F] [--encoding E] [--sheet S] [--json] [--lang zh-CN|en]"
	fs := flag.NewFlagSet("catalog draft", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "", "csv, xlsx, json or ndjson (default: from the file name)")
	enc := fs.String("encoding", "", "utf-8, gbk or gb18030 (default: detected)")
	sheet := fs.String("sheet", "", "XLSX sheet name or number (default: the one holding the table)")
	asJSON := fs.Bool("json", false, "print the proposal as JSON")
	langFlag := fs.String("lang", "zh-CN", "language of the reasons: zh-CN or en")
	file, err := parseFile(fs, args, u)
	if err != nil {
		return err
	}
	l := i18n.Lang(*langFlag)
	svc := &ingest.Service{Limits: ingest.Limits{TempDir: os.TempDir(), MaxFieldBytes: cfg.MaxFieldKB << 10, MaxColumns: cfg.MaxColumns,
		MaxHeaderBytes: cfg.MaxHeaderKB << 10, MaxUnzipBytes: int64(cfg.MaxUnzipMB) << 20, Location: cfg.Location(), NullMarkers: cfg.NullMarkers}}
	d, err := svc.DraftFile(ctx, file, filepath.Base(file), *format, *enc, *sheet)
	if err != nil {
		text, internal := ingest.Explain(l, err)
		if internal {
			text += " (" + err.Error() + ")"
		}
		return errors.New(text)
	}
	d.Localize(l)
	if *asJSON {
		return printJSON(stdout, d)
	}
	printDraft(stdout, l, d)
	return nil
}

// printDraft is the proposal as a table, then the key and its repeats.
func printDraft(w io.Writer, l string, d *ingest.Draft) {
	t := func(key string, p map[string]string) string { return i18n.T(l, key, p) }
	fmt.Fprintln(w, t("draft.cli.summary", map[string]string{"file": d.File, "rows": strconv.FormatInt(d.Rows, 10), "n": strconv.Itoa(len(d.Items))}))
	if d.Sheet != nil {
		fmt.Fprintln(w, t("draft.sheet", map[string]string{"sheet": d.Sheet.Used}))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "#\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t("draft.col.name", nil), t("draft.col.type", nil), t("draft.col.filled", nil),
		t("draft.col.personal", nil), t("draft.col.check", nil), t("draft.col.enum", nil), t("draft.col.reason", nil))
	for i, it := range d.Items {
		personal, check := "", ""
		if it.Personal {
			personal = t("draft.yes", nil)
		}
		if it.Check != "" {
			check = t("item_check."+it.Check, nil)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", i+1, it.Name, t("type."+string(it.Type), nil), it.Filled, personal, check,
			strings.Join(it.Enum, "、"), strings.Join(it.Reasons, "；"))
	}
	tw.Flush()
	if d.Key == nil {
		fmt.Fprintln(w, t("draft.no_key", nil))
		return
	}
	fmt.Fprintln(w, t("draft.key", map[string]string{"column": d.Key.Column})+"："+d.Key.Reason)
	if len(d.Key.Repeats) > 0 {
		fmt.Fprintln(w, t("draft.repeats", nil))
		for _, r := range d.Key.Repeats {
			rows := make([]string, len(r.Rows))
			for i, n := range r.Rows {
				rows[i] = strconv.FormatInt(n, 10)
			}
			line := "  " + r.Value + "：" + t("draft.repeat_rows", map[string]string{"rows": strings.Join(rows, "、")})
			if r.Same {
				line += " " + t("draft.repeat_same", nil)
			}
			fmt.Fprintln(w, line)
		}
		if d.Key.MoreRepeats > 0 {
			fmt.Fprintln(w, "  "+t("draft.more_repeats", map[string]string{"n": strconv.Itoa(d.Key.MoreRepeats)}))
		}
	}
}

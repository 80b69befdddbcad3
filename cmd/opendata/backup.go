package main

import (
	"fmt"
	"io"
	"os"

	"opendata/app"
	"opendata/backup"
	"opendata/db"
)

// backupTo writes a consistent snapshot beside a running server: it
// reads the database in one snapshot transaction and never opens the
// search index (restore rebuilds it).
func backupTo(cl *call) error {
	ctx, cfg, a, args, stdout, stderr := cl.ctx, cl.cfg, cl.a, cl.args[1:], cl.stdout, cl.stderr
	if len(args) != 1 {
		return usageError{"usage: opendata backup DIR | s3://bucket/prefix"}
	}
	dst, err := backup.Target(ctx, cfg, args[0])
	if err != nil {
		return err
	}
	m, err := backup.Backup(ctx, a.DB, a.Blobs, dst, say(stderr))
	if err != nil {
		return err
	}
	var size int64
	for _, o := range m.Objects {
		size += o.Size
	}
	fmt.Fprintf(stdout, "backup written to %s: schema %d, %d tables, %d objects (%d bytes), audit head %v\n",
		args[0], m.SchemaVersion, len(m.Tables), len(m.Objects), size, m.AuditHead["hash"])
	return nil
}

// restoreFrom rebuilds a wiped installation from a backup: the database
// (which must be new and empty), the objects, then the search index from
// the database, and checks the audit chain.
func restoreFrom(cl *call) error {
	ctx, cfg, args, stdout, stderr := cl.ctx, cl.cfg, cl.args[1:], cl.stdout, cl.stderr
	if len(args) != 1 {
		return usageError{"usage: opendata restore DIR | s3://bucket/prefix   (into an empty database and object store)"}
	}
	src, err := backup.Target(ctx, cfg, args[0])
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return err
	}
	d, err := db.Open(ctx, cfg.DatabaseURL, cfg.SQLitePath())
	if err != nil {
		return err
	}
	bs, err := app.OpenBlobs(ctx, cfg)
	if err != nil {
		d.Close()
		return err
	}
	m, err := backup.Restore(ctx, src, d, bs, say(stderr))
	d.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored from %s (taken %s on %s): %d tables, %d objects\n",
		args[0], m.CreatedAt.Format("2006-01-02 15:04:05 MST"), m.Dialect, len(m.Tables), len(m.Objects))
	// Then, with the restored installation open: the search index from the
	// database, and the audit chain checked.
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	then := *cl
	then.a = a
	if err := reindex(&then); err != nil {
		return fmt.Errorf("rebuild the search index (run `opendata reindex`): %w", err)
	}
	return auditVerify(&then)
}

func say(w io.Writer) backup.Progress {
	return func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
}

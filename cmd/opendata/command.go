package main

import (
	"context"
	"flag"
	"io"
	"strings"

	"opendata/app"
	"opendata/config"
)

// The command-line skeleton. Every command is a runner looked up by name in
// commands; a runner is either one command (it runs with the app open, or
// without it when it needs only the configuration) or a group of
// subcommands ("opendata key create …"). What runs gets a call: its
// context, configuration, open app, arguments and outputs, so no command
// repeats the preamble of opening and closing the app.

// commands are the top-level commands by name.
var commands map[string]runner

func init() { // in init: restore and serve refer to commands that refer back
	commands = map[string]runner{
		"serve":      command{open: openServing, run: serve},
		"migrate":    command{open: openApp, run: migrate},
		"demo":       command{open: openApp, run: loadDemo},
		"user":       cmdUser,
		"department": cmdDepartment,
		"catalog":    cmdCatalog,
		"ingest":     command{open: openApp, run: ingestFile},
		"reindex":    command{open: openApp, run: reindex},
		"audit":      cmdAudit,
		"calendar":   cmdCalendar,
		"key":        cmdKey,
		"synonyms":   cmdSynonyms,
		"backup":     command{open: openApp, run: backupTo},
		"restore":    command{run: restoreFrom}, // into an empty installation: it opens what it fills itself
	}
}

// runner runs a command line; args[0] is the command's name.
type runner interface {
	exec(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error
}

// call is what a command or subcommand runs with: args[0] is its name, its
// flags and operands follow; a is nil for one that runs without the app.
type call struct {
	ctx            context.Context
	cfg            config.Config
	a              *app.App
	args           []string
	stdout, stderr io.Writer
}

// opener opens the app for a command.
type opener func(context.Context, config.Config) (*app.App, error)

// command is one command: run with the app open through open, or without
// the app when open is nil.
type command struct {
	open opener
	run  func(*call) error
}

func (c command) exec(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	return runWith(ctx, cfg, c.open, c.run, args, stdout, stderr)
}

// group is a command with subcommands: the usage is said when none or an
// unknown one is given. subs run with the app open (without the search
// index, which a running server holds); offline ones without it.
type group struct {
	usage   string
	subs    map[string]func(*call) error
	offline map[string]func(*call) error
}

func (g group) exec(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		return usageError{g.usage}
	}
	if sub, ok := g.offline[args[1]]; ok {
		return runWith(ctx, cfg, nil, sub, args[1:], stdout, stderr)
	}
	sub, ok := g.subs[args[1]]
	if !ok {
		return usageError{g.usage}
	}
	return runWith(ctx, cfg, openApp, sub, args[1:], stdout, stderr)
}

func runWith(ctx context.Context, cfg config.Config, open opener, run func(*call) error, args []string, stdout, stderr io.Writer) error {
	cl := &call{ctx: ctx, cfg: cfg, args: args, stdout: stdout, stderr: stderr}
	if open != nil {
		a, err := open(ctx, cfg)
		if err != nil {
			return err
		}
		defer a.Close()
		cl.a = a
	}
	return run(cl)
}

// openApp opens what a command-line tool needs: everything but the search
// index, which a running server holds. What a command changes reaches the
// index (the server's, or the next one to start) through the search change
// log, so no command waits on the server's lock.
func openApp(ctx context.Context, cfg config.Config) (*app.App, error) {
	return app.OpenHeadless(ctx, cfg, app.NewLogger(cfg))
}

// openServing opens the whole app, search index included, for serve.
func openServing(ctx context.Context, cfg config.Config) (*app.App, error) {
	return app.Open(ctx, cfg, app.NewLogger(cfg))
}

// parseFile parses a subcommand's flags around its one FILE operand, which
// may come before or after them.
func parseFile(fs *flag.FlagSet, args []string, usage string) (string, error) {
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", usageError{err.Error()}
	}
	if file == "" && fs.NArg() > 0 {
		file = fs.Arg(0)
	}
	if file == "" {
		return "", usageError{usage}
	}
	return file, nil
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// Command hostile runs hostile inputs through the real ingest (ingest.Convert
// with the configuration's default limits) and prints, for each, how it
// ended, the time to refusal and the peak RSS of the process that read it
// (each input in a child process of its own, measured by getrusage maxrss).
// The inputs are generated in a temporary directory and removed after.
//
//	go run ./bench/hostile            # every case
//	go run ./bench/hostile -only bomb # cases whose name contains "bomb"
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"opendata/config"
	"opendata/i18n"
	"opendata/ingest"
	"opendata/ingest/ingesttest"
)

type hostileCase struct {
	name, file string
	unzipMB    int // 0: the default max_unzip_mb
	make       func(path string) error
}

func cases() []hostileCase {
	write := func(data func() []byte) func(string) error {
		return func(p string) error { return os.WriteFile(p, data(), 0o600) }
	}
	bomb := func(kind ingesttest.Bomb, size int64) func(string) error {
		return func(p string) error {
			f, err := os.Create(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return ingesttest.XLSXBomb(f, kind, size)
		}
	}
	return []hostileCase{
		{"wide CSV: 200,000 columns", "wide.csv", 0, write(func() []byte { return ingesttest.WideCSV(200_000) })},
		{"CSV with a 3 MB header line", "header.csv", 0, write(func() []byte { return ingesttest.LongHeaderCSV(3 << 20) })},
		{"CSV with a 10 MB line", "line.csv", 0, write(func() []byte { return []byte("a,b\n1," + strings.Repeat("x", 10<<20) + "\n") })},
		{"XLSX bomb: one 1 GB cell, default limits", "bomb.xlsx", 0, bomb(ingesttest.InlineCell, 1<<30)},
		{"XLSX bomb: one 1 GB cell, max_unzip_mb=2048 (the old default)", "bomb.xlsx", 2048, bomb(ingesttest.InlineCell, 1<<30)},
		{"XLSX bomb: a 200 MB shared string", "shared.xlsx", 0, bomb(ingesttest.SharedCell, 200<<20)},
		{"XLSX bomb: a 3 MB shared string in 1,000 cells of a row", "row.xlsx", 0, bomb(ingesttest.SharedRow, 3<<20)},
		{"JSON with a 10 MB string", "long.json", 0, write(func() []byte { return ingesttest.LongJSONString(10 << 20) })},
		{"JSON nested 1,000,000 deep", "deep.json", 0, write(func() []byte { return ingesttest.DeepJSON(1_000_000) })},
		{"NDJSON with a 10 MB line", "long.ndjson", 0, write(func() []byte {
			b := ingesttest.LongJSONString(10 << 20)
			return append(b[1:len(b)-1], '\n')
		})},
	}
}

func main() {
	child := flag.String("child", "", "internal: convert this file and print the outcome")
	unzip := flag.Int("unzip", 0, "internal: max_unzip_mb for the child")
	only := flag.String("only", "", "run the cases whose name contains this")
	flag.Parse()
	if *child != "" {
		os.Exit(convert(*child, *unzip))
	}
	dir, err := os.MkdirTemp("", "hostile-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	fmt.Println("| input | file size | outcome | time to refusal | peak RSS |")
	fmt.Println("|---|---|---|---|---|")
	for _, c := range cases() {
		if !strings.Contains(c.name, *only) {
			continue
		}
		p := filepath.Join(dir, c.file)
		if err := c.make(p); err != nil {
			fail(err)
		}
		st, _ := os.Stat(p)
		var out bytes.Buffer
		cmd := exec.Command(self, "-child", p, "-unzip", fmt.Sprint(c.unzipMB))
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		runErr := cmd.Run()
		took := time.Since(start)
		rss := int64(0)
		if cmd.ProcessState != nil {
			rss = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
		}
		outcome := strings.TrimSpace(out.String())
		if runErr != nil && outcome == "" {
			outcome = runErr.Error()
		}
		fmt.Printf("| %s | %s | %s | %.2f s | %.0f MB |\n", c.name, size(st.Size()), outcome, took.Seconds(), float64(rss)/1024)
		os.Remove(p)
	}
}

// convert runs the ingest on path with the default configuration's limits
// (as the server and the CLI set them) and prints what a person is told.
func convert(path string, unzipMB int) int {
	cfg := config.Default()
	if unzipMB > 0 {
		cfg.MaxUnzipMB = unzipMB
	}
	tmp, err := os.MkdirTemp("", "hostile-out-")
	if err != nil {
		fmt.Println(err)
		return 2
	}
	defer os.RemoveAll(tmp)
	res, err := ingest.Convert(context.Background(), path, ingest.Options{
		TempDir: tmp, MaxFieldBytes: cfg.MaxFieldKB << 10, MaxColumns: cfg.MaxColumns, MaxHeaderBytes: cfg.MaxHeaderKB << 10,
		MaxUnzipBytes: int64(cfg.MaxUnzipMB) << 20, DedupMemoryBytes: int64(cfg.DedupMemoryMB) << 20, Location: cfg.Location(),
	})
	if err == nil {
		res.Cleanup()
		fmt.Printf("ACCEPTED (%d rows)", res.Report.RowsStored)
		return 1
	}
	fmt.Print("refused: " + short(ingest.ErrorText(i18n.EN, err), 150))
	return 0
}

func short(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func size(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.0f KB", float64(n)/1024)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

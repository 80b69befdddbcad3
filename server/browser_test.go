package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: CI requires the browser test (.ci/run installs it)")
	}
	t.Skip("chromium not installed; skipping the browser test (apt-get install chromium fonts-wqy-microhei)")
	return ""
}

// TestPortalInBrowser walks the portal as a citizen would, in headless
// Chromium, and keeps a screenshot of every step in the test's artifact
// directory (go test -artifacts keeps them).
func TestPortalInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	e := sqliteEnv(t)
	publishBusStops(t, e)
	shots := t.ArtifactDir()
	downloads := t.TempDir()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.WindowSize(1280, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
		if err != nil {
			t.Fatalf("%s: screenshot: %v", name, err)
		}
		os.WriteFile(filepath.Join(shots, name+".jpg"), png, 0o644)
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.Contains(text, "‽") {
			t.Fatalf("%s: a message key is missing: %s", name, text)
		}
		if strings.Contains(text, "出错了") || strings.Contains(text, "服务器内部错误") {
			t.Fatalf("%s: the page shows an error: %s", name, text)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}

	step("1-home", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(chromedp.CSS("#q")))
	if h := text("h1"); h != "恩施市公共数据开放平台" {
		t.Fatalf("home heading %q", h)
	}
	step("2-search", chromedp.SendKeys(chromedp.CSS("#q"), "公交站点"), chromedp.Submit(chromedp.CSS("#q")), chromedp.WaitVisible(chromedp.CSS(".hits")))
	if first := text(".hit h2"); first != "公交站点信息" {
		t.Fatalf("first hit %q", first)
	}
	step("3-facet", chromedp.Click(chromedp.CSS(`.facets a[href*="domain=transport"]`)), chromedp.WaitVisible(chromedp.CSS(".facets a.active")))
	if active := text(".facets a.active"); active != "交通" {
		t.Fatalf("active facet %q", active)
	}
	step("4-dataset", chromedp.Click(chromedp.CSS(".hit h2 a")), chromedp.WaitVisible(chromedp.CSS("article.dataset")))
	if title := text("h1"); title != "公交站点信息" {
		t.Fatalf("dataset title %q", title)
	}
	step("5-download", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
		return err
	}), chromedp.Click(chromedp.CSS(`.downloads a[href$="open.csv"]`)), chromedp.Sleep(300*time.Millisecond))
	var got []byte
	for i := 0; i < 100 && got == nil; i++ {
		matches, _ := filepath.Glob(filepath.Join(downloads, "*.csv"))
		if len(matches) > 0 {
			got, _ = os.ReadFile(matches[0])
			if filepath.Base(matches[0]) != "公交站点信息-v1.csv" {
				t.Errorf("downloaded as %s", filepath.Base(matches[0]))
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(string(got), "1,舞阳坝,1200.50,110105********002X") {
		t.Fatalf("downloaded csv: %q", got)
	}
	step("6-english", chromedp.Navigate(e.url+"/?lang=en"), chromedp.WaitVisible(chromedp.CSS("#q")))
	if h := text("h1"); h != "Enshi Open Data" {
		t.Fatalf("english heading %q", h)
	}
	t.Logf("screenshots in %s", shots)
}

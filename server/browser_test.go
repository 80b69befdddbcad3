package server_test

import (
	"context"
	"fmt"
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
	_, step, text := newBrowser(t, exe)
	shots := t.ArtifactDir()
	downloads := t.TempDir()

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

type stepFunc func(name string, actions ...chromedp.Action[chromedp.Void])

// newBrowser starts headless Chromium; step runs actions, screenshots the
// page into the artifact directory and fails on an error page or on what
// pageProblems finds in its text; text reads an element's text.
func newBrowser(t *testing.T, exe string) (context.Context, stepFunc, func(string) string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.WindowSize(1280, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	shots := t.ArtifactDir()

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
		page, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](pageTextJS))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range pageProblems(page["body"], page["chrome"], page["lang"]) {
			t.Errorf("%s: %s", name, p)
		}
		if text := page["body"]; strings.Contains(text, "出错了") || strings.Contains(text, "服务器内部错误") {
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
	return ctx, step, text
}

// TestDeveloperInBrowser: a developer signs up on the portal, is
// activated, creates a key (shown once), calls the records API with it,
// applies for on-application data from the dataset page, and after the
// department approves in its console sees the grant and the usage chart.
func TestDeveloperInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	e := sqliteEnv(t)
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	open := e.entryWithData(staff, admin, "D-U", "unconditional", "unconditional")
	onApp := e.entryWithData(staff, admin, "D-C", "conditional", "on_application")
	_, step, text := newBrowser(t, exe)

	step("d1-signup", chromedp.Navigate(e.url+"/signup"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "dev@example.cn"), chromedp.SendKeys(chromedp.CSS("#display_name"), "李开发"),
		chromedp.SendKeys(chromedp.CSS("#organisation"), "某大学交通研究所"), chromedp.SendKeys(chromedp.CSS("#password"), "developer-pass-1"),
		chromedp.Submit(chromedp.CSS("#email")), chromedp.WaitVisible(chromedp.CSS("p[role=status]")))
	if !strings.Contains(text("p[role=status]"), "经大数据局管理员启用后即可登录") {
		t.Fatalf("after sign-up: %q", text("main"))
	}
	devs := e.do("GET", "/api/v1/developers", admin, nil, nil).json(t)["developers"].([]any)
	devID := int64(devs[0].(map[string]any)["id"].(float64))
	e.do("POST", fmt.Sprintf("/api/v1/developers/%d/activate", devID), admin, nil, nil)

	step("d2-login", chromedp.Navigate(e.url+"/login?next=/account"), chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "dev@example.cn"), chromedp.SendKeys(chromedp.CSS("#password"), "developer-pass-1"),
		chromedp.Submit(chromedp.CSS("#username")), chromedp.WaitVisible(chromedp.CSS("#key-name")))
	step("d3-key", chromedp.SendKeys(chromedp.CSS("#key-name"), "公交分析"), chromedp.Submit(chromedp.CSS("#key-name")), chromedp.WaitVisible(chromedp.CSS("#new-key")))
	key := text("#new-key")
	if !strings.HasPrefix(key, "oda_") {
		t.Fatalf("key on the page: %q", key)
	}
	r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d/records?limit=2", open), "", nil, map[string]string{"X-API-Key": key})
	if r.status != 200 || !strings.Contains(string(r.body), "舞阳坝") {
		t.Fatalf("records with the key from the page: %d %s", r.status, r.body)
	}
	step("d4-account", chromedp.Navigate(e.url+"/account"), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
	if body := text("main"); strings.Contains(body, key) {
		t.Fatal("the key is shown again")
	}
	step("d5-apply", chromedp.Navigate(fmt.Sprintf("%s/datasets/%d", e.url, onApp)), chromedp.WaitVisible(chromedp.CSS("#app-purpose")),
		chromedp.SendKeys(chromedp.CSS("#app-purpose"), "研究公交站点布局"), chromedp.SendKeys(chromedp.CSS("#app-use"), "学术论文中的空间分析"),
		chromedp.Submit(chromedp.CSS("#app-purpose")), chromedp.WaitVisible(chromedp.CSS("#apply .list")))
	if got := text("#apply .list"); !strings.Contains(got, "待审核") {
		t.Fatalf("application on the dataset page: %q", got)
	}
	// The department approves in its console.
	// (logging in as staff replaces the developer's session cookie)
	step("d7-queue", chromedp.Navigate(e.url+"/login?next=/console/applications"), chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "jt_staff"), chromedp.SendKeys(chromedp.CSS("#password"), "transport-pass-1"),
		chromedp.Submit(chromedp.CSS("#username")), chromedp.WaitVisible(chromedp.CSS("section.card")))
	if !strings.Contains(text("section.card"), "研究公交站点布局") {
		t.Fatalf("queue: %q", text("main"))
	}
	step("d8-approve", chromedp.Click(chromedp.CSS(`form[action$="/approve"] button`)), chromedp.WaitVisible(chromedp.CSS("p.flash")))
	if r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d/records", onApp), key, nil, nil); r.status != 200 {
		t.Fatalf("records after approval: %d %s", r.status, r.body)
	}
	step("d9-usage", chromedp.Navigate(e.url+"/console/usage"), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
	if !strings.Contains(text("main"), "某大学交通研究所") {
		t.Fatalf("department usage: %q", text("main"))
	}
	step("d10-docs", chromedp.Navigate(e.url+"/docs/api"), chromedp.WaitVisible(chromedp.CSS(`section.op`)))
	if !strings.Contains(text("main"), "/api/v1/resources/{id}/records") {
		t.Fatal("docs page lacks the records route")
	}
	step("d11-docs-en", chromedp.Navigate(e.url+"/docs/api?lang=en"), chromedp.WaitVisible(chromedp.CSS(`section.op`)))
}

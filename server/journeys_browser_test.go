package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"opendata/i18n"
)

// The one checker of what a page shows people (the browser walks use it
// after every step).

var (
	// Go's, a driver's or a template's words beyond language_test's goText.
	moreGoText = regexp.MustCompile(`strconv\.|nil pointer|\bEOF\b|no rows|%!|runtime error|invalid memory address|goroutine \d|\{\{|\}\}|\bpanic:`)
	// A code in snake case (pending_review, escalated_to_office).
	snakeCode = regexp.MustCompile(`^[a-z]+(_[a-z0-9]+)+$`)
	// A job phase or other code with a colon (upload:quality.json).
	colonCode = regexp.MustCompile(`^[a-z_]+:[a-z_.]+$`)
	// A lowercase English word standing alone on a Chinese page.
	lowerWord = regexp.MustCompile(`^[a-z]{3,}$`)
	hanText   = regexp.MustCompile(`\p{Han}+`)
	// The catalog's keys, and the codes of its vocabularies (the part
	// after the area: refused, masked, monthly).
	catalogKeys, vocabCodes = catalogTokens()
)

// vocabAreas are the catalog areas whose keys end in a vocabulary's code.
var vocabAreas = []string{"share_status", "share_event", "pub", "event", "open", "key_status", "job", "share_type", "open_type",
	"update_period", "domain", "format", "collection_channel", "catalog_kind", "share_method", "role", "tier", "access",
	"personal_action", "item_check", "type", "calkind", "application", "dispute"}

func catalogTokens() (keys, codes map[string]bool) {
	keys, codes = map[string]bool{}, map[string]bool{}
	for _, k := range i18n.Keys(i18n.ZH) {
		keys[k] = true
		area, code, ok := strings.Cut(k, ".")
		if !ok {
			continue
		}
		for _, a := range vocabAreas {
			if a == area && lowerWord.MatchString(code) {
				codes[code] = true
			}
		}
	}
	return keys, codes
}

// walkNames are the fixtures' own words: account names, data values and
// department names that have no English. They may stand on any page.
var walkNames = []string{"admin", "jt_staff", "wj_staff", "dev_walk", "市交通运输局", "市卫生健康委员会", "中文",
	"公交站点信息", "公交线路", "线路编号", "线路名称", "站数", "站点编号", "站点名称", "日均客流", "负责人身份证",
	"舞阳坝", "土桥坝", "人民广场", "张三", "王市民", "1路", "李开发", "某大学交通研究所", "核对就医站点的公交可达性", "卫生应急", "研究公交站点布局"}

// allowedWords are lowercase words a page may show as they are: programs
// and libraries named in the API examples' tabs, the records filter's
// operators and the API's field names the API docs explain, the search's
// English synonym shown as a searched word, the fixtures' account names.
var allowedWords = map[string]bool{"curl": true, "pandas": true, "and": true, "contains": true, "prefix": true, "null": true, "error": true,
	"next_cursor": true, "bus": true, "admin": true, "jt_staff": true, "wj_staff": true, "dev_walk": true}

// pageProblems names what the text of a page must not hold in lang:
// a missing message or a message key, Go's or a template's error text, a
// raw code of a vocabulary, English on a Chinese page, and Chinese in the
// chrome (headings, labels, buttons, navigation) of an English page other
// than the fixtures' own names. body is the whole visible text, chrome
// the text of the page's furniture.
func pageProblems(body, chrome, lang string) []string {
	bad := readable(body, lang)
	if m := moreGoText.FindString(body); m != "" {
		bad = append(bad, fmt.Sprintf("Go or template text %q", m))
	}
	tokens := strings.FieldsFunc(body, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.:/@-", r))
	})
	for _, tok := range tokens {
		tok = strings.TrimRight(tok, ".:-")
		what := ""
		switch {
		case allowedWords[tok]:
		case catalogKeys[tok]:
			what = "message key"
		case snakeCode.MatchString(tok), colonCode.MatchString(tok), lang == i18n.ZH && vocabCodes[tok]:
			what = "raw code"
		case lang == i18n.ZH && lowerWord.MatchString(tok):
			what = "English word"
		}
		if what != "" {
			bad = append(bad, fmt.Sprintf("%s %q: …%s…", what, tok, snippet(body, strings.Index(body, tok))))
		}
	}
	// The audit log's word for an action it has no name for.
	if other := i18n.T(lang, "audit.act.other", nil); strings.Contains(body, other) {
		bad = append(bad, fmt.Sprintf("an action without a name (%q)", other))
	}
	if lang == i18n.EN {
		rest := chrome
		for _, n := range walkNames {
			rest = strings.ReplaceAll(rest, n, " ")
		}
		if m := hanText.FindStringIndex(rest); m != nil {
			bad = append(bad, fmt.Sprintf("Chinese in the English chrome: …%s…", snippet(rest, m[0])))
		}
	}
	return bad
}

func snippet(s string, at int) string {
	r := []rune(s)
	i := len([]rune(s[:at]))
	return string(r[max(0, i-30):min(len(r), i+30)])
}

func TestPageProblems(t *testing.T) {
	for _, c := range []struct {
		name, body, chrome, lang string
		bad                      bool
	}{
		{"clean Chinese", "目录条目 公交站点信息 已发布 · 每月 · 下载 CSV · jt_staff 创建了此条目", "", "zh-CN", false},
		{"clean English", "Catalog entry 公交站点信息 published · monthly · refused", "Console | Sign out | 中文 | 市交通运输局", "en", false},
		{"missing message", "‽signup.username：already taken", "", "zh-CN", true},
		{"message key", "处理结果 share.escalated_to_office", "", "zh-CN", true},
		{"catalog key in English", "Result review.quality_title", "", "en", true},
		{"template text", "标题 {{.Title}}", "", "zh-CN", true},
		{"go error", "出现问题 sql: no rows in result set", "", "zh-CN", true},
		{"strconv", `strconv.Atoi: parsing "x": invalid syntax`, "", "en", true},
		{"nil pointer", "runtime error: invalid memory address or nil pointer dereference", "", "en", true},
		{"eof", "读取失败：unexpected EOF", "", "zh-CN", true},
		{"format verb", "共 %!d(string=3) 行", "", "zh-CN", true},
		{"snake code", "状态：pending_review", "", "zh-CN", true},
		{"snake code in English", "Status: pending_review", "", "en", true},
		{"single code on a Chinese page", "处理结果：refused", "", "zh-CN", true},
		{"masked on a Chinese page", "负责人身份证 masked", "", "zh-CN", true},
		{"phase", "阶段 upload:quality.json", "", "zh-CN", true},
		{"English word on a Chinese page", "（effective 2027-01-01）", "", "zh-CN", true},
		{"English sentence on a Chinese page", "密码 at least 10 characters long", "", "zh-CN", true},
		{"Chinese chrome on an English page", "Search", "Search | 目录 | Sign out", "en", true},
		{"unnamed audit action", "admin · 其他操作", "", "zh-CN", true},
		{"file names and paths pass", "下载 open.csv · /api/v1/resources/3/records · dev@example.cn", "", "zh-CN", false},
	} {
		got := pageProblems(c.body, c.chrome, c.lang)
		if (len(got) > 0) != c.bad {
			t.Errorf("%s: problems %v, want bad=%v", c.name, got, c.bad)
		}
	}
}

// pageTextJS reads what a person reads: the body's text without code
// samples, text declared in the other language or scripts, with
// placeholders; and the chrome: navigation, headings, labels, buttons,
// table heads (a data preview's heads are the data's own words).
const pageTextJS = `(() => {
  const skip = 'script,style,pre,code,textarea,kbd,samp,noscript,template,svg';
  const text = root => {
    const out = [];
    const walk = n => {
      if (n.nodeType === 3) { out.push(n.nodeValue); return; }
      if (n.nodeType !== 1 || n.matches(skip)) return;
      if (n.hasAttribute('lang')) return; // declared words: the OpenAPI spec's English, the language switch
      if (n.placeholder) out.push(' ' + n.placeholder + ' ');
      if (n.tagName === 'OPTION' && !n.selected) return;
      for (const c of n.childNodes) walk(c);
      if (getComputedStyle(n).display !== 'inline') out.push(' ');
    };
    walk(root);
    return out.join('').replace(/\s+/g, ' ');
  };
  const chrome = [...document.querySelectorAll('header, nav, footer, h2, legend, label, button, dt, thead th')]
    .filter(e => !e.closest('table.preview, table.report, .draft-reasons, fieldset.columns') && !(e.tagName === 'LABEL' && e.querySelector('input[name=columns]')))
    .map(text).join(' | ');
  return {body: text(document.body), chrome: chrome, lang: document.documentElement.lang};
})()`

// walker drives one browser through journeys: every step screenshots the
// page into the test's artifact directory and checks its text.
type walker struct {
	t    *testing.T
	ctx  context.Context
	base string
	lang string
	n    int
}

func newWalker(t *testing.T, exe, base, lang string) *walker {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.WindowSize(1280, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 8*time.Minute)
	t.Cleanup(cancel)
	w := &walker{t: t, ctx: ctx, base: base, lang: lang}
	// The language is the visitor's choice, remembered in a cookie.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/?lang="+lang), chromedp.WaitVisible(chromedp.CSS("#q"))); err != nil {
		t.Fatal(err)
	}
	return w
}

// in is a walker for a subtest (its own screenshots), on the same browser.
func (w *walker) in(t *testing.T) *walker {
	return &walker{t: t, ctx: w.ctx, base: w.base, lang: w.lang}
}

func (w *walker) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
		defer cancel()
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
		w.shoot(name + "-failed")
		w.t.Fatalf("%s: %v (at %s)\n%s", name, err, loc, body)
	}
	w.shoot(name)
	w.check(name)
}

func (w *walker) shoot(name string) {
	w.n++
	if png, err := chromedp.Run(w.ctx, chromedp.FullScreenshot(80)); err == nil {
		os.WriteFile(filepath.Join(w.t.ArtifactDir(), fmt.Sprintf("%02d-%s-%s.jpg", w.n, w.lang, name)), png, 0o644)
	}
}

func (w *walker) check(name string) {
	w.t.Helper()
	got, err := chromedp.Run(w.ctx, chromedp.Evaluate[map[string]string](pageTextJS))
	if err != nil {
		w.t.Fatalf("%s: page text: %v", name, err)
	}
	loc, _ := chromedp.Run(w.ctx, chromedp.Location())
	if len(got["body"]) < 40 || got["lang"] != w.lang {
		w.t.Fatalf("%s (%s): the page's text in %q is %q", name, loc, got["lang"], got["body"])
	}
	for _, p := range pageProblems(got["body"], got["chrome"], w.lang) {
		w.t.Errorf("%s (%s, %s): %s", name, w.lang, loc, p)
	}
}

// text is an element's text; has reports whether an element is there.
func (w *walker) text(sel string) string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		w.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(v)
}

func (w *walker) has(sel string) bool {
	w.t.Helper()
	ok, err := chromedp.Run(w.ctx, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q) !== null`, sel)))
	if err != nil {
		w.t.Fatal(err)
	}
	return ok
}

func (w *walker) location() string {
	loc, _ := chromedp.Run(w.ctx, chromedp.Location())
	return loc
}

// wants fails unless the element's text holds each of want (per language).
func (w *walker) wants(sel string, want ...string) {
	w.t.Helper()
	got := w.text(sel)
	for _, s := range want {
		if !strings.Contains(got, s) {
			w.t.Errorf("%s lacks %q: %s", sel, s, got)
		}
	}
}

// zhen picks the Chinese or the English of an expectation.
func (w *walker) zhen(zh, en string) string {
	if w.lang == i18n.EN {
		return en
	}
	return zh
}

// login signs in on the one login page, leaving whoever was signed in.
func (w *walker) login(user, pw, next, waitFor string) {
	w.t.Helper()
	if w.has("header form[action='/logout'] button") {
		w.step("logout", click("header form[action='/logout'] button"), chromedp.WaitVisible(chromedp.CSS("#q, main")))
	}
	w.step("login-"+user, chromedp.Navigate(w.base+"/login?next="+next), chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), user), chromedp.SendKeys(chromedp.CSS("#password"), pw),
		click("form[action='/login'] button"), chromedp.WaitVisible(chromedp.CSS(waitFor)))
}

// click clicks what loads a new page and waits until it has loaded.
func click(sel string) chromedp.Action[chromedp.Void] {
	mark := chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__walkOld = true`))
		return err
	})
	return chromedp.Steps(mark, chromedp.Click(chromedp.CSS(sel)),
		waitJS(`window.__walkOld === undefined && document.readyState === 'complete'`))
}

// choose sets a select by its option's value, as picking it would.
func choose(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const s = document.querySelector(%q);
			if (!s || ![...s.options].some(o => o.value === %q)) return false;
			s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, sel, value, value)))
		if err == nil && !ok {
			err = fmt.Errorf("no option %q in %s", value, sel)
		}
		return err
	})
}

// waitJS waits until a script on the page is true (the job page reloads
// itself while the job runs).
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		for {
			ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
			if ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	})
}

const walkRoutesV1 = "线路编号,线路名称,站数\n1路,舞阳坝至火车站,18\n2路,土桥坝至人民广场,12\n3路,金桂大道至学院,15\n"
const walkRoutesV2 = "线路编号,线路名称,站数\n1路,舞阳坝至火车站,19\n2路,土桥坝至人民广场,12\n4路,航空大道至高铁站,21\n5路,小渡船至七里坪,十二\n"

// TestJourneysInBrowser walks the platform as each of its people would,
// in Chinese and in English, through the pages only: a newcomer in a
// department creates an entry, uploads, reviews with the quality report
// and a second person publishes; a citizen searches and reads the
// dataset page; a developer signs up, gets a key and applies; departments
// ask for and answer a share and read their notices and the audit log;
// an entry is edited, with its history in words and a concurrent edit
// caught. Every step is screenshot (go test -artifacts keeps them) and
// its text checked by pageProblems.
func TestJourneysInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	for _, lang := range []string{i18n.ZH, i18n.EN} {
		t.Run(lang, func(t *testing.T) {
			e := sqliteEnv(t)
			admin := e.login("admin", "bureau-secret-1")
			staff := e.login("jt_staff", "transport-pass-1")
			publishBusStops(t, e)
			onApp := e.entryWithData(staff, admin, "D-C", "conditional", "on_application")
			w := newWalker(t, exe, e.url, lang)
			var routes int64
			t.Run("newcomer", func(t *testing.T) { routes = walkNewcomer(w.in(t), e) })
			if routes == 0 {
				t.Fatal("the newcomer's entry is not there: the other journeys need it")
			}
			t.Run("citizen", func(t *testing.T) { walkCitizen(w.in(t), routes) })
			t.Run("developer", func(t *testing.T) { walkDeveloper(w.in(t), onApp) })
			// More events than the audit log shows on a page (audit.PageSize
			// is 50): the bureau sets the developer's key's tier back and forth.
			for i := range 52 {
				if r := e.do("POST", "/api/v1/keys/1/tier", admin, map[string]string{"tier": []string{"partner", "registered"}[i%2]}, nil); r.status != 200 {
					t.Fatalf("tier: %d %s", r.status, r.body)
				}
			}
			t.Run("sharing", func(t *testing.T) { walkSharing(w.in(t), onApp, e.hlth) })
			t.Run("edit", func(t *testing.T) { walkEdit(w.in(t), routes) })
			t.Run("dispute", func(t *testing.T) { walkDispute(w.in(t), routes) })
		})
	}
}

// walkNewcomer: department staff create an entry with the form, upload a
// file, watch the job, review the version with its quality report, rows
// and comparison, submit; the bureau approves; the dataset is public; a
// second upload is compared with the published version.
func walkNewcomer(w *walker, e *env) int64 {
	t := w.t
	w.login("jt_staff", "transport-pass-1", "/console", "main h1")
	w.step("console", click(`a[href="/console/resources/new"]`), chromedp.WaitVisible(chromedp.CSS("#f-code")))
	// Saving half a form says what is missing, next to each field.
	w.step("form-invalid", chromedp.SendKeys(chromedp.CSS("#f-name"), "公交线路"), click("#save"), chromedp.WaitVisible(chromedp.CSS("#errors")))
	w.wants("#errors", w.zhen("需要修改", "to correct"))
	w.step("form-fill",
		chromedp.SendKeys(chromedp.CSS("#f-code"), "JTJ-201"), chromedp.SendKeys(chromedp.CSS("#f-name_en"), "Bus routes"),
		chromedp.SendKeys(chromedp.CSS("#f-summary"), "全市公交线路及站数"),
		choose("#f-catalog_kind", "department"), choose("#f-domain", "transport"), choose("#f-format", "table"),
		choose("#f-collection_channel", "business_system"), choose("#f-update_period", "monthly"),
		choose("#f-share_type", "unconditional"), choose("#f-open_type", "unconditional"),
		chromedp.SendKeys(chromedp.CSS("#f-usage_note"), "引用请注明来源"), chromedp.SendKeys(chromedp.CSS("#f-responsible_person"), "张三"),
		chromedp.SendKeys(chromedp.CSS("#f-responsible_contact"), "0718-8200000"), chromedp.SendKeys(chromedp.CSS("#f-keywords"), "公交、线路"),
		chromedp.SetValue(chromedp.CSS("#i0-name"), "线路编号"), choose("#i0-type", "string"),
		chromedp.Click(chromedp.CSS(`input[name="items.0.key"]`)), chromedp.Click(chromedp.CSS(`input[name="items.0.required"]`)),
		click("#add-item"), chromedp.WaitVisible(chromedp.CSS("#i1-name")))
	w.step("items",
		chromedp.SendKeys(chromedp.CSS("#i1-name"), "线路名称"), choose("#i1-type", "string"),
		click("#add-item"), chromedp.WaitVisible(chromedp.CSS("#i2-name")),
		chromedp.SendKeys(chromedp.CSS("#i2-name"), "站数"), choose("#i2-type", "int"), chromedp.SendKeys(chromedp.CSS("#i2-unit"), "个"))
	w.step("created", click("#save"), chromedp.WaitVisible(chromedp.CSS("#file")))
	w.wants("main .flash", w.zhen("已创建目录条目", "created"))
	var id int64
	fmt.Sscanf(w.location(), w.base+"/console/resources/%d", &id)
	if id == 0 {
		t.Fatalf("after create at %s", w.location())
	}

	upload := func(name, csv, ratio string) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "线路.csv")
		os.WriteFile(path, []byte(csv), 0o644)
		acts := []chromedp.Action[chromedp.Void]{chromedp.Navigate(fmt.Sprintf("%s/console/resources/%d", w.base, id)), chromedp.WaitVisible(chromedp.CSS("#file")),
			chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{path})}
		if ratio != "" {
			acts = append(acts, chromedp.SendKeys(chromedp.CSS("#max_reject_ratio"), ratio))
		}
		acts = append(acts, click(`form[action*="/upload"] button`), chromedp.WaitVisible(chromedp.CSS(`p[role=status]`)))
		w.step(name, acts...)
		w.step(name+"-done", waitJS(`!document.querySelector('progress') && document.readyState === 'complete' && document.querySelector('a[href^="/console/resources/"]') !== null`))
		w.wants("main", w.zhen("已完成", "done"))
	}
	upload("upload-v1", walkRoutesV1, "")
	w.step("resource", click(`main a[href^="/console/resources/"]`), chromedp.WaitVisible(chromedp.CSS(`a[href$="/versions/1"]`)))
	w.step("version-1", click(`a[href$="/versions/1"]`), chromedp.WaitVisible(chromedp.CSS("#quality")))
	w.wants("#quality", "线路编号", "站数")
	w.wants("#rows", "舞阳坝至火车站")
	w.step("submitted", click("#submit-version"), chromedp.WaitVisible(chromedp.CSS("p.flash")))
	if w.has("#approve-version") {
		t.Fatal("the uploader can approve their own version")
	}
	// Four eyes: someone of the bureau approves.
	w.login("admin", "bureau-secret-1", "/console", "main h1")
	w.step("queue", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`a[href="/console/resources/%d/versions/1"]`, id))))
	w.step("review", click(fmt.Sprintf(`a[href="/console/resources/%d/versions/1"]`, id)), chromedp.WaitVisible(chromedp.CSS("#approve-version")))
	w.wants("#quality", "线路名称")
	w.step("approved", click("#approve-version"), chromedp.WaitVisible(chromedp.CSS("p.flash")))
	w.step("public", chromedp.Navigate(fmt.Sprintf("%s/datasets/%d", w.base, id)), chromedp.WaitVisible(chromedp.CSS("article.dataset")))
	w.wants("h1", w.zhen("公交线路", "Bus routes"))

	// A second upload is compared with what is published.
	w.login("jt_staff", "transport-pass-1", fmt.Sprintf("/console/resources/%d", id), "#file")
	upload("upload-v2", walkRoutesV2, "40%")
	w.step("version-2", chromedp.Navigate(fmt.Sprintf("%s/console/resources/%d/versions/2", w.base, id)), chromedp.WaitVisible(chromedp.CSS("#compare")))
	w.wants("#compare", w.zhen("已发布", "published"))
	// 4路 is new, 3路 gone, 5路 rejected (站数 十二 is no number), 1路 changed.
	if got := w.text("#rows-added"); got != "1" {
		t.Errorf("rows added %q", got)
	}
	if got := w.text("#rows-removed"); got != "1" {
		t.Errorf("rows removed %q", got)
	}
	w.wants("#quality", "站数")
	if !w.has("#rejected") {
		t.Errorf("the rejected row is not on the version page: %s", w.text("#quality"))
	}
	return id
}

// walkCitizen: home, search, a facet and its chip, the dataset page with
// its downloads, API examples and licence.
func walkCitizen(w *walker, id int64) {
	t := w.t
	if w.has("header form[action='/logout'] button") {
		w.step("logout", click("header form[action='/logout'] button"), chromedp.WaitVisible(chromedp.CSS("main")))
	}
	w.step("home", chromedp.Navigate(w.base+"/"), chromedp.WaitVisible(chromedp.CSS("#q")))
	w.step("search", chromedp.SendKeys(chromedp.CSS("#q"), "公交"), chromedp.Submit(chromedp.CSS("#q")), chromedp.WaitVisible(chromedp.CSS(".hits")))
	w.step("facet", click(`.facets a[href*="domain=transport"]`), chromedp.WaitVisible(chromedp.CSS(".chips .chip")))
	w.wants(".chips", w.zhen("交通", "Transport"))
	w.step("chip-removed", click(".chips .chip"), chromedp.WaitNotPresent(chromedp.CSS(".chips .chip")))
	w.step("dataset", click(fmt.Sprintf(`.hit h2 a[href^="/datasets/%d"]`, id)), chromedp.WaitVisible(chromedp.CSS("article.dataset")))
	if !w.has(`.downloads a[href*="/download/"]`) {
		t.Error("no download link")
	}
	w.wants("#api", "curl")
	w.wants("#licence", w.zhen("许可", "Licence"))
	// A dataset that is not there is said so, in words.
	w.step("not-found", chromedp.Navigate(w.base+"/datasets/99999"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	w.wants("main", w.zhen("没有编号为 99999 的数据集", "there is no dataset 99999"))
	w.step("dataset-again", chromedp.Navigate(fmt.Sprintf("%s/datasets/%d", w.base, id)), chromedp.WaitVisible(chromedp.CSS("article.dataset")))
	// The other language is a click away, and back.
	mine := w.lang
	w.lang = map[string]string{i18n.ZH: i18n.EN, i18n.EN: i18n.ZH}[mine]
	w.step("other-language", click(`header nav a[hreflang]`), chromedp.WaitVisible(chromedp.CSS("article.dataset")))
	w.lang = mine
	w.step("language-back", click(`header nav a[hreflang]`), chromedp.WaitVisible(chromedp.CSS("article.dataset")))
}

// walkDeveloper: sign up, the bureau activates in its console, sign in,
// a key shown once, an application for on-application data.
func walkDeveloper(w *walker, onApp int64) {
	t := w.t
	if w.has("header form[action='/logout'] button") {
		w.step("logout", click("header form[action='/logout'] button"), chromedp.WaitVisible(chromedp.CSS("main")))
	}
	email := "dev_walk@example.cn"
	w.step("signup", chromedp.Navigate(w.base+"/"), chromedp.WaitVisible(chromedp.CSS(`header a[href="/signup"]`)),
		click(`header a[href="/signup"]`), chromedp.WaitVisible(chromedp.CSS("#email")))
	// A short password is refused in the reader's language.
	w.step("signup-weak", chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#display_name"), "李开发"),
		chromedp.SendKeys(chromedp.CSS("#organisation"), "某大学交通研究所"), chromedp.SendKeys(chromedp.CSS("#password"), "short"),
		chromedp.SetAttributeValue(chromedp.CSS("#password"), "minlength", "0"),
		click("form[action='/signup'] button"), chromedp.WaitVisible(chromedp.CSS("main .warn")))
	w.step("signed-up", chromedp.SendKeys(chromedp.CSS("#password"), "developer-pass-1"), click("form[action='/signup'] button"),
		chromedp.WaitVisible(chromedp.CSS("p[role=status]")))
	// Signing up again with the address says the same as the first time:
	// the page does not tell whether an address has an account.
	first := w.text("p[role=status]")
	w.step("signup-again", chromedp.Navigate(w.base+"/signup"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#display_name"), "李开发"),
		chromedp.SendKeys(chromedp.CSS("#password"), "another-pass-2"), click("form[action='/signup'] button"), chromedp.WaitVisible(chromedp.CSS("p[role=status]")))
	if again := w.text("p[role=status]"); again != first {
		t.Errorf("a second sign-up says %q, the first %q", again, first)
	}
	// Awaiting activation is said as such.
	w.step("login-inactive", chromedp.Navigate(w.base+"/login?next=/account"), chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), email), chromedp.SendKeys(chromedp.CSS("#password"), "developer-pass-1"),
		click("form[action='/login'] button"), chromedp.WaitVisible(chromedp.CSS("main .warn")))
	w.wants("main .warn", w.zhen("尚未启用", "not active yet"))
	w.login("admin", "bureau-secret-1", "/console/developers", "main h1")
	w.step("activate", click(`form[action$="/activate"] button`), chromedp.WaitVisible(chromedp.CSS("p.flash")))
	w.login(email, "developer-pass-1", "/account", "#key-name")
	w.step("key", chromedp.SendKeys(chromedp.CSS("#key-name"), "公交分析"), click("form:has(#key-name) button"), chromedp.WaitVisible(chromedp.CSS("#new-key")))
	key := w.text("#new-key")
	if !strings.HasPrefix(key, "oda_") {
		t.Fatalf("key on the page: %q", key)
	}
	w.step("account", chromedp.Navigate(w.base+"/account"), chromedp.WaitVisible(chromedp.CSS("#key-name")))
	if strings.Contains(w.text("main"), key) {
		t.Error("the key is shown again")
	}
	w.step("apply", chromedp.Navigate(fmt.Sprintf("%s/datasets/%d", w.base, onApp)), chromedp.WaitVisible(chromedp.CSS("#app-purpose")),
		chromedp.SendKeys(chromedp.CSS("#app-purpose"), "研究公交站点布局"), chromedp.SendKeys(chromedp.CSS("#app-use"), "学术论文中的空间分析"),
		click("#apply form button"), chromedp.WaitVisible(chromedp.CSS("#apply .list")))
	w.wants("#apply .list", w.zhen("待审核", "ending"))
	w.step("docs", chromedp.Navigate(w.base+"/docs/api"), chromedp.WaitVisible(chromedp.CSS("section.op")))
}

// walkSharing: another department asks for data; the provider sees the
// request with department, purpose, columns and term, answers it; both
// read their notices (links to the item) and the audit log is filtered
// and paged.
func walkSharing(w *walker, id, asker int64) {
	t := w.t
	w.login("wj_staff", "health-pass-123", "/console/share", "main table")
	w.step("ask", click(fmt.Sprintf(`a[href="/console/share/%d/request"]`, id)), chromedp.WaitVisible(chromedp.CSS("#purpose")),
		chromedp.SendKeys(chromedp.CSS("#purpose"), "核对就医站点的公交可达性"), chromedp.SendKeys(chromedp.CSS("#legal_duty"), "卫生应急"),
		chromedp.Click(chromedp.CSS(`input[name=columns][value="站点名称"]`)), click(`form[action$="/request"] button`),
		chromedp.WaitVisible(chromedp.CSS("#outgoing")))
	w.wants("main", "核对就医站点的公交可达性")
	w.login("jt_staff", "transport-pass-1", "/console/share/requests", "#incoming")
	w.wants("#incoming ~ section.card", "市卫生健康委员会", "核对就医站点的公交可达性", "站点名称")
	w.step("answer", click(`form[action$="/approve"] button`), chromedp.WaitVisible(chromedp.CSS("p.flash")))
	w.wants("main", w.zhen("已同意", "approved"))
	w.login("wj_staff", "health-pass-123", "/console/notifications", "main h1")
	if !w.has("main ul.list a[href]") {
		t.Fatalf("notices without links: %s", w.text("main"))
	}
	w.step("notice-link", click("main ul.list a[href]"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	w.login("admin", "bureau-secret-1", "/console/audit", "#a-action")
	w.step("audit-filter", choose("#a-action", "share.request_filed"), click("form.filters button"), chromedp.WaitVisible(chromedp.CSS("main table")))
	w.wants("main table", w.zhen("市卫生健康委员会", "市卫生健康委员会"))
	w.step("audit-department", chromedp.Navigate(w.base+"/console/audit"), chromedp.WaitVisible(chromedp.CSS("#a-dept")),
		choose("#a-dept", fmt.Sprint(asker)), click("form.filters button"), chromedp.WaitVisible(chromedp.CSS("main table")))
	rows, err := chromedp.Run(w.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('main table tbody tr')].map(r => r.innerText)`))
	if err != nil || len(rows) == 0 {
		t.Fatalf("audit rows of a department: %v %v", rows, err)
	}
	for _, r := range rows {
		if !strings.Contains(r, "市卫生健康委员会") {
			t.Errorf("another department's event under the filter: %s", r)
		}
	}
	// The whole log is longer than a page: older events are a link away.
	w.step("audit-all", chromedp.Navigate(w.base+"/console/audit"), chromedp.WaitVisible(chromedp.CSS(`a[rel=next]`)))
	first := w.text("main table tbody tr td")
	w.step("audit-older", click(`a[rel=next]`), chromedp.WaitVisible(chromedp.CSS("main table")))
	if older := w.text("main table tbody tr td"); older == first {
		t.Errorf("the older page starts with the same event #%s", older)
	}
}

// walkEdit: the entry is edited with the form, its history says what
// changed in words, and an edit made meanwhile in another tab is caught.
func walkEdit(w *walker, id int64) {
	t := w.t
	w.login("jt_staff", "transport-pass-1", fmt.Sprintf("/console/resources/%d", id), "#edit-entry")
	w.step("edit", click("#edit-entry"), chromedp.WaitVisible(chromedp.CSS("#f-update_period")),
		choose("#f-update_period", "weekly"), click("#save"), chromedp.WaitVisible(chromedp.CSS("#history")))
	w.wants("#history", "jt_staff", w.zhen("每月", "onthly"), w.zhen("每周", "eekly"))
	// Two tabs edit the same revision; the second save is told.
	w.step("edit-a", chromedp.Navigate(fmt.Sprintf("%s/console/resources/%d/edit", w.base, id)), chromedp.WaitVisible(chromedp.CSS("#f-summary")))
	other, cancel := chromedp.NewContext(w.ctx)
	defer cancel()
	b := &walker{t: t, ctx: other, base: w.base, lang: w.lang, n: 50}
	b.step("edit-b", chromedp.Navigate(fmt.Sprintf("%s/console/resources/%d/edit", w.base, id)), chromedp.WaitVisible(chromedp.CSS("#f-summary")),
		chromedp.SendKeys(chromedp.CSS("#f-summary"), "（含夜班线路）"), click("#save"), chromedp.WaitVisible(chromedp.CSS("#history")))
	w.step("conflict", chromedp.SendKeys(chromedp.CSS("#f-responsible_person"), "、李四"), click("#save"), chromedp.WaitVisible(chromedp.CSS("#conflict")))
	w.wants("#conflict", "含夜班线路")
}

// walkDispute: a citizen reports an error on the dataset page with a
// contact; the providing department finds it in its queue with the
// deadline, answers it; the answer stands on the dataset page.
func walkDispute(w *walker, id int64) {
	t := w.t
	if w.has("header form[action='/logout'] button") {
		w.step("logout", click("header form[action='/logout'] button"), chromedp.WaitVisible(chromedp.CSS("main")))
	}
	w.step("report", chromedp.Navigate(fmt.Sprintf("%s/datasets/%d", w.base, id)), chromedp.WaitVisible(chromedp.CSS("#dsp-name")),
		chromedp.SendKeys(chromedp.CSS("#dsp-name"), "王市民"), chromedp.SendKeys(chromedp.CSS("#dsp-contact"), "13800000000"),
		choose("#dsp-column", "站数"), chromedp.SendKeys(chromedp.CSS("#dsp-row"), "1路"),
		chromedp.SendKeys(chromedp.CSS("#dsp-problem"), "1路实际停靠20个站"), click(`form[action*="/disputes"] button`),
		chromedp.WaitVisible(chromedp.CSS("p.flash")))
	w.login("jt_staff", "transport-pass-1", "/console/disputes", "main h1")
	w.wants("main section.card", "1路实际停靠20个站", "王市民", "13800000000")
	w.step("answer-dispute", chromedp.Click(chromedp.CSS(`main section.card input[name=confirmed][value=yes]`)),
		chromedp.SendKeys(chromedp.CSS("main section.card textarea[name=answer]"), "已核实，下一版更正为20个站"),
		click("main section.card form button"), chromedp.WaitVisible(chromedp.CSS("p.flash")))
	w.step("answered", chromedp.Navigate(fmt.Sprintf("%s/datasets/%d", w.base, id)), chromedp.WaitVisible(chromedp.CSS("#disputes")))
	w.wants("#disputes", "1路实际停靠20个站", "已核实，下一版更正为20个站")
	if strings.Contains(w.text("main"), "13800000000") {
		t.Error("the reporter's contact is on the public page")
	}
}

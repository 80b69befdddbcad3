package server_test

// Fault tests against real servers this test starts and stops itself
// (never the shared ones): its own MinIO and Redis processes on free
// ports, and an object store that runs out of space.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"opendata/access"
	"opendata/auth"
	"opendata/blob"
	"opendata/db/dbtest"
	"opendata/ratelimit"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// binary finds a server binary, failing in CI and skipping elsewhere.
func binary(t *testing.T, env string, candidates ...string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		candidates = append([]string{p}, candidates...)
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (%s): CI requires the fault tests", candidates, env)
	}
	t.Skipf("%v not found; set %s", candidates, env)
	return ""
}

// process is a server this test owns.
type process struct {
	t    *testing.T
	args []string
	env  []string
	cmd  *exec.Cmd
	addr string
	log  *os.File
}

func (p *process) start(ready func() bool) {
	p.t.Helper()
	p.cmd = exec.Command(p.args[0], p.args[1:]...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !ready() {
		if time.Now().After(deadline) {
			p.stop()
			b, _ := os.ReadFile(p.log.Name())
			p.t.Fatalf("%s did not start: %s", p.args[0], b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop kills the process (as a crash or a pulled cable would) and waits.
func (p *process) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Kill()
	p.cmd.Wait()
	p.cmd = nil
}

func newProcess(t *testing.T, args, env []string, addr string) *process {
	log, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(args[0])+".log"))
	if err != nil {
		t.Fatal(err)
	}
	p := &process{t: t, args: args, env: env, addr: addr, log: log}
	t.Cleanup(p.stop)
	return p
}

const faultKey, faultSecret = "fault-test", "fault-test-secret"

func startMinIO(t *testing.T) *process {
	bin := binary(t, "TEST_MINIO_BIN", filepath.Join(os.Getenv("HOME"), ".cache/opendata-ci/bin/minio"), "minio")
	addr := freeAddr(t)
	p := newProcess(t, []string{bin, "server", "--address", addr, "--console-address", freeAddr(t), t.TempDir()},
		[]string{"MINIO_ROOT_USER=" + faultKey, "MINIO_ROOT_PASSWORD=" + faultSecret, "MINIO_BROWSER=off"}, addr)
	p.start(func() bool { return httpOK("http://" + addr + "/minio/health/live") })
	return p
}

func (p *process) restart() {
	p.start(func() bool { return httpOK("http://" + p.addr + "/minio/health/live") })
}

func httpOK(u string) bool {
	res, err := http.Get(u)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == 200
}

// killAtPut forwards to a store and, when armed, runs kill before the
// n-th Put of a version object — the middle of an ingest.
type killAtPut struct {
	blob.Store
	armed atomic.Bool
	n     atomic.Int32
	at    int32
	kill  func()
}

func (k *killAtPut) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if k.armed.Load() && strings.HasPrefix(key, "resources/") && k.n.Add(1) == k.at {
		k.kill()
	}
	return k.Store.Put(ctx, key, r, size)
}

// MinIO stopped in the middle of an ingest: the job fails with words, no
// version becomes visible, no object is left once MinIO is back and the
// janitor has run, and the same upload then succeeds.
func TestFaultMinIOStoppedMidIngest(t *testing.T) {
	m := startMinIO(t)
	ctx := context.Background()
	store, err := blob.NewMinIO(ctx, blob.MinIOConfig{Endpoint: m.addr, AccessKey: faultKey, SecretKey: faultSecret, Bucket: "fault"})
	if err != nil {
		t.Fatal(err)
	}
	bs := &killAtPut{Store: store, at: 2, kill: m.stop}
	e := start(t, dbtest.SQLite(t), bs, nil)
	staff := e.login("jt_staff", "transport-pass-1")
	r := e.do("POST", "/api/v1/catalog/resources", staff, busEntry(e.bus), nil)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := int64(r.json(t)["id"].(float64))
	bs.armed.Store(true)
	r = e.upload(staff, id, "公交站点.csv", gbk(busStopsGBK))
	if r.status != 202 && r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	j := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string))
	if j["status"] != "failed" {
		t.Fatalf("ingest with MinIO gone: %v", j)
	}
	msg := fmt.Sprint(j["error"])
	for _, leak := range []string{"dial tcp", "connection refused", "127.0.0.1", ".go:"} {
		if strings.Contains(msg, leak) {
			t.Errorf("job error shows the cause %q: %s", leak, msg)
		}
	}
	visible := func() string {
		r := e.do("GET", fmt.Sprintf("/api/v1/catalog/resources/%d/versions", id), staff, nil, nil)
		return string(r.body)
	}
	if v := visible(); strings.Contains(v, `"status":"ready"`) || strings.Contains(v, `"status":"published"`) || strings.Contains(v, `"status":"draft"`) {
		t.Fatalf("a version became visible: %s", v)
	}
	bs.armed.Store(false)
	m.restart()
	if _, err := e.app.Ingest.CleanStale(ctx, 0); err != nil { // what the janitor does every minute
		t.Fatal(err)
	}
	left, err := store.List(ctx, fmt.Sprintf("resources/%d/", id))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("objects left behind once MinIO is back: %v", left)
	}
	r = e.upload(staff, id, "公交站点.csv", gbk(busStopsGBK))
	if j := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string)); j["status"] != "succeeded" {
		t.Fatalf("retry after MinIO is back: %v", j)
	}
}

// noSpace is a disk that fills up after limit bytes: every further write
// fails with ENOSPC, as a full local disk does.
type noSpace struct {
	blob.Store
	used, limit atomic.Int64
}

func (n *noSpace) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return n.Store.Put(ctx, key, &enospcReader{r: r, n: n}, -1)
}

type enospcReader struct {
	r io.Reader
	n *noSpace
}

func (e *enospcReader) Read(p []byte) (int, error) {
	k, err := e.r.Read(p)
	if e.n.used.Add(int64(k)) > e.n.limit.Load() {
		return 0, &os.PathError{Op: "write", Path: "blobs", Err: syscall.ENOSPC}
	}
	return k, err
}

// The local disk full in the middle of an ingest: the job fails cleanly,
// nothing is published, the partial objects are removed.
func TestFaultDiskFull(t *testing.T) {
	local, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bs := &noSpace{Store: local}
	bs.limit.Store(1 << 40)
	e := start(t, dbtest.SQLite(t), bs, nil)
	staff := e.login("jt_staff", "transport-pass-1")
	r := e.do("POST", "/api/v1/catalog/resources", staff, busEntry(e.bus), nil)
	id := int64(r.json(t)["id"].(float64))
	bs.limit.Store(bs.used.Load() + 4000) // the upload and the first object fit, the version does not
	r = e.upload(staff, id, "公交站点.csv", gbk(busStopsGBK))
	if r.status >= 500 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	if r.status == 202 || r.status == 201 {
		j := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string))
		if j["status"] != "failed" || strings.Contains(fmt.Sprint(j["error"]), "no space left") && strings.Contains(fmt.Sprint(j["error"]), "/") {
			t.Fatalf("ingest on a full disk: %v", j)
		}
	}
	left, _ := local.List(context.Background(), fmt.Sprintf("resources/%d/", id))
	if len(left) != 0 {
		t.Fatalf("partial objects left on the full disk: %v", left)
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d", id), "", nil, nil); r.status != 404 {
		t.Fatalf("a resource became public: %d", r.status)
	}
}

// Redis gone: calls with an API key are refused (503, fail closed: no key
// exceeds its allowance); the public portal and anonymous calls go on.
func TestFaultRedisGone(t *testing.T) {
	bin := binary(t, "TEST_REDIS_BIN", "redis-server")
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	p := newProcess(t, []string{bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no"}, nil, addr)
	p.start(func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	ctx := context.Background()
	limits, err := ratelimit.NewRedis(ctx, "redis://"+addr+"/0", "opendata:rl:")
	if err != nil {
		t.Fatal(err)
	}
	e := sqliteEnv(t)
	e.app.Limits, e.app.Users.Throttle.Limits = limits, limits
	id := publishBusStops(t, e)
	dev, err := e.app.Users.CreateUser(ctx, auth.NewUser{Username: "dev@example.cn", Email: "dev@example.cn", Password: "developer-pass-1", Role: auth.RoleDeveloper})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := e.app.Access.CreateKey(ctx, dev, "fault", 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = access.TierRegistered
	records := fmt.Sprintf("/api/v1/resources/%d/records", id)
	if r := e.do("GET", records, key, nil, nil); r.status != 200 || r.header.Get("RateLimit-Limit") == "" {
		t.Fatalf("keyed call with Redis up: %d %s", r.status, r.body)
	}
	p.stop()
	r := e.do("GET", records, key, nil, nil)
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("keyed call with Redis gone: %d %s", r.status, r.body)
	}
	noLeak(t, records, r.body)
	if r := e.do("GET", "/", "", nil, nil); r.status != 200 {
		t.Fatalf("portal with Redis gone: %d", r.status)
	}
	if r := e.do("GET", fmt.Sprintf("/datasets/%d", id), "", nil, nil); r.status != 200 {
		t.Fatalf("dataset page with Redis gone: %d", r.status)
	}
	if r := e.do("GET", records, "", nil, nil); r.status != 200 {
		t.Fatalf("anonymous records call with Redis gone: %d", r.status)
	}
	if r := e.do("GET", "/readyz", "", nil, nil); r.status != 200 || !strings.Contains(string(r.body), `"ratelimit":"unavailable"`) {
		t.Fatalf("readyz with Redis gone: %d %s", r.status, r.body)
	}
	p.start(func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.do("GET", records, key, nil, nil)
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keyed call after Redis is back: %d %s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

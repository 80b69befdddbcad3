// Package config holds the one typed configuration of opendata. Every option
// lives in the table below with its default, its environment variable and its
// validation; it is parsed once at start and passed down as a value.
package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"opendata/ratelimit"
)

// Config is the parsed, validated configuration.
type Config struct {
	Listen          string
	BaseURL         string
	DataDir         string
	DatabaseURL     string
	BlobBackend     string
	S3Endpoint      string
	S3AccessKey     string
	S3SecretKey     string
	S3Bucket        string
	S3UseSSL        bool
	S3Region        string
	LogLevel        string
	LogFormat       string
	MaxUploadMB     int
	IngestWorkers   int
	MaxFieldKB      int
	MaxUnzipMB      int
	DedupMemoryMB   int
	MaxColumns      int
	MaxHeaderKB     int
	MaxRejectRatio  float64
	NullMarkers     []string
	JobMaxAttempts  int
	TimeZone        string
	SessionTTL      time.Duration
	ShutdownTimeout time.Duration
	Demo            bool
	SearchBackend   string
	MeiliURL        string
	MeiliKey        string
	MeiliIndex      string
	Approver        string
	MinNoticeDays   int
	Licence         string // the open data's licence unless an entry names its own
	LicenceURL      string
	SMTPAddr        string
	SMTPFrom        string
	SMTPUser        string
	SMTPPassword    string
	SMTPTimeout     time.Duration
	SMTPMaxAttempts int
	LimitStore      string
	RedisURL        string
	AnonRate        string
	AnonDaily       int
	TrustProxy      bool
	RegisteredRate  string
	RegisteredDaily int
	PartnerRate     string
	PartnerDaily    int
	KeyMaxDays      int
	KeyCacheTTL     time.Duration
	ApplicationDays int
	QueryCacheMB    int
	QueryMemoryMB   int
	QueryThreads    int
	QueryTimeout    time.Duration
	SignupApproval  string
	MaxBodyKB       int
	MaxAuthBodyKB   int
	HashConcurrency int
	HashWait        time.Duration
	LoginIPRate     string
	LoginFailures   int
	LoginLockout    time.Duration
	LoginMaxLockout time.Duration
	MetricsListen   string
	MetricsToken    string

	// Audit chain and workflows (exactlyonce).
	AuditKeyFile       string
	AuditCheckpointInt time.Duration
	// StatsMinCount is k: the fewest rows a public statistic stands for.
	StatsMinCount int

	// loc is TimeZone, loaded once by validate: loading it reads the zone
	// database, which cost 115× a CSV cell's conversion when done per value.
	loc *time.Location
}

// Option describes one setting.
type Option struct {
	Key     string // file key; the environment variable is OPENDATA_ + upper(Key)
	Default string
	Help    string
	set     func(c *Config, v string) error
}

// Env is the option's environment variable.
func (o Option) Env() string { return "OPENDATA_" + strings.ToUpper(o.Key) }

func str(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

// httpURL is an http or https address, or empty.
func httpURL(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v != "" && !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
			return fmt.Errorf("must be an http:// or https:// address")
		}
		*p(c) = v
		return nil
	}
}

func oneOf(p func(*Config) *string, allowed ...string) func(*Config, string) error {
	return func(c *Config, v string) error {
		for _, a := range allowed {
			if v == a {
				*p(c) = v
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
	}
}

func intRange(p func(*Config) *int, lo, hi int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("must be a whole number from %d to %d", lo, hi)
		}
		*p(c) = n
		return nil
	}
}

// ParseRatio reads a share as a fraction from 0 to 1 ("0.05") or a
// percentage ("5%").
func ParseRatio(v string) (float64, error) {
	v = strings.TrimSpace(v)
	scale := 1.0
	if strings.HasSuffix(v, "%") {
		v, scale = strings.TrimSpace(strings.TrimSuffix(v, "%")), 100
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != f || f < 0 || f/scale > 1 {
		return 0, fmt.Errorf("must be a share from 0 to 1 (0.05) or a percentage (5%%)")
	}
	return f / scale, nil
}

func ratio(p func(*Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		f, err := ParseRatio(v)
		if err != nil {
			return err
		}
		*p(c) = f
		return nil
	}
}

// list reads comma-separated values (spaces around each trimmed; empty
// items dropped); an empty setting is an empty list.
func list(p func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		out := []string{}
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		*p(c) = out
		return nil
	}
}

func boolean(p func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("must be true or false")
		}
		*p(c) = b
		return nil
	}
}

func duration(p func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("must be a positive duration such as 30s or 12h")
		}
		*p(c) = d
		return nil
	}
}

// Options is every setting, in the order the README lists them.
var Options = []Option{
	{"listen", "127.0.0.1:8080", "HTTP listen address", str(func(c *Config) *string { return &c.Listen })},
	{"base_url", "", "public base URL used in links (default http://LISTEN)", str(func(c *Config) *string { return &c.BaseURL })},
	{"data_dir", "./data", "directory for the SQLite database, local blobs and temporary files", str(func(c *Config) *string { return &c.DataDir })},
	{"database_url", "", "metadata database: empty for SQLite in DATA_DIR, sqlite:PATH, or postgres://…", str(func(c *Config) *string { return &c.DatabaseURL })},
	{"blob_backend", "local", "object storage: local (DATA_DIR/blobs) or minio (any S3)", oneOf(func(c *Config) *string { return &c.BlobBackend }, "local", "minio")},
	{"s3_endpoint", "", "MinIO/S3 endpoint host:port (blob_backend=minio)", str(func(c *Config) *string { return &c.S3Endpoint })},
	{"s3_access_key", "", "MinIO/S3 access key", str(func(c *Config) *string { return &c.S3AccessKey })},
	{"s3_secret_key", "", "MinIO/S3 secret key", str(func(c *Config) *string { return &c.S3SecretKey })},
	{"s3_bucket", "opendata", "MinIO/S3 bucket (created if missing)", str(func(c *Config) *string { return &c.S3Bucket })},
	{"s3_use_ssl", "false", "use HTTPS to reach MinIO/S3", boolean(func(c *Config) *bool { return &c.S3UseSSL })},
	{"s3_region", "", "MinIO/S3 region", str(func(c *Config) *string { return &c.S3Region })},
	{"log_level", "info", "debug, info, warn or error", oneOf(func(c *Config) *string { return &c.LogLevel }, "debug", "info", "warn", "error")},
	{"log_format", "text", "text or json", oneOf(func(c *Config) *string { return &c.LogFormat }, "text", "json")},
	{"max_upload_mb", "1024", "largest accepted upload, in MiB", intRange(func(c *Config) *int { return &c.MaxUploadMB }, 1, 1<<20)},
	{"ingest_workers", "2", "background ingest jobs run at once per server", intRange(func(c *Config) *int { return &c.IngestWorkers }, 1, 64)},
	{"max_field_kb", "1024", "largest single field accepted by ingest, in KiB", intRange(func(c *Config) *int { return &c.MaxFieldKB }, 1, 1<<20)},
	{"max_unzip_mb", "256", "largest uncompressed size of an XLSX workbook, in MiB, counted as it inflates (zip-bomb guard); keep it below what one ingest worker may hold", intRange(func(c *Config) *int { return &c.MaxUnzipMB }, 1, 1<<20)},
	{"dedup_memory_mb", "32", "memory for the duplicate and key-conflict checks, in MiB: a one-read hash table for files whose rows fit, else sorted runs that spill to disk", intRange(func(c *Config) *int { return &c.DedupMemoryMB }, 1, 1<<16)},
	{"max_columns", "2000", "most columns a file may have; a wider file is refused before anything is sized by its width", intRange(func(c *Config) *int { return &c.MaxColumns }, 1, 16384)},
	{"max_header_kb", "256", "largest header row (column names) accepted by ingest, in KiB", intRange(func(c *Config) *int { return &c.MaxHeaderKB }, 1, 1<<16)},
	{"max_reject_ratio", "0.05", "largest share of a file's rows that may be rejected (wrong field count, a value not of its column's type, a missing required value; duplicates do not count): above it the ingest fails as a whole and publishes nothing; 0.05 or 5%, overridable per upload and per `opendata ingest` run", ratio(func(c *Config) *float64 { return &c.MaxRejectRatio })},
	{"null_markers", "未填报,—,-,/,无,暂无,不详,N/A,#N/A,NULL", "comma-separated values read as null (not as a bad value) in number and date columns, counted per column in the quality report; letters in any case; empty: none", list(func(c *Config) *[]string { return &c.NullMarkers })},
	{"job_max_attempts", "3", "how many times a background job is started before it is marked failed (a job whose worker died is retried until then)", intRange(func(c *Config) *int { return &c.JobMaxAttempts }, 1, 100)},
	{"timezone", "Asia/Shanghai", "time zone for dates, deadlines and 'not in the future' checks", str(func(c *Config) *string { return &c.TimeZone })},
	{"session_ttl", "12h", "how long a staff login lasts", duration(func(c *Config) *time.Duration { return &c.SessionTTL })},
	{"shutdown_timeout", "20s", "grace period for in-flight requests on shutdown", duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{"search_backend", "bleve", "catalog search: bleve (embedded, DATA_DIR/search) or meilisearch", oneOf(func(c *Config) *string { return &c.SearchBackend }, "bleve", "meilisearch")},
	{"meilisearch_url", "", "Meilisearch URL (search_backend=meilisearch)", str(func(c *Config) *string { return &c.MeiliURL })},
	{"meilisearch_key", "", "Meilisearch API key", str(func(c *Config) *string { return &c.MeiliKey })},
	{"meilisearch_index", "opendata_resources", "Meilisearch index name", str(func(c *Config) *string { return &c.MeiliIndex })},
	{"publish_approver", "dept_admin", "who approves publications: dept_admin (the department's admin, or the bureau) or bureau", oneOf(func(c *Config) *string { return &c.Approver }, "dept_admin", "bureau")},
	{"licence", "CC BY 4.0", "licence of the open data unless a catalog entry names its own (shown on the dataset page and in the DCAT export)", str(func(c *Config) *string { return &c.Licence })},
	{"licence_url", "https://creativecommons.org/licenses/by/4.0/", "where the licence's text is (http or https; empty: none)", httpURL(func(c *Config) *string { return &c.LicenceURL })},
	{"withdraw_notice_days", "30", "shortest notice before a published resource is withdrawn (A-19)", intRange(func(c *Config) *int { return &c.MinNoticeDays }, 0, 365)},
	{"smtp_addr", "", "SMTP server host:port for e-mail notifications (empty: in-app only)", str(func(c *Config) *string { return &c.SMTPAddr })},
	{"smtp_from", "opendata@localhost", "sender address of notification e-mails", str(func(c *Config) *string { return &c.SMTPFrom })},
	{"smtp_user", "", "SMTP user (PLAIN auth)", str(func(c *Config) *string { return &c.SMTPUser })},
	{"smtp_password", "", "SMTP password", str(func(c *Config) *string { return &c.SMTPPassword })},
	{"smtp_timeout", "30s", "longest one e-mail delivery may take, dial included (mail leaves through the outbox; no request waits for it)", duration(func(c *Config) *time.Duration { return &c.SMTPTimeout })},
	{"smtp_max_attempts", "8", "how many times an e-mail is tried (the pause doubling from 30s) before it is marked failed", intRange(func(c *Config) *int { return &c.SMTPMaxAttempts }, 1, 100)},
	{"ratelimit_store", "memory", "where API call counts live: memory (one instance) or redis (shared by every instance)", oneOf(func(c *Config) *string { return &c.LimitStore }, "memory", "redis")},
	{"redis_url", "", "Redis for shared rate limits, e.g. redis://127.0.0.1:6379/0", str(func(c *Config) *string { return &c.RedisURL })},
	{"anon_rate", "120-M", "calls an anonymous caller (per IP) may make to the public API: N-S, N-M, N-H or N-D", str(func(c *Config) *string { return &c.AnonRate })},
	{"anon_daily", "20000", "daily quota of an anonymous caller (per IP); 0 for none", intRange(func(c *Config) *int { return &c.AnonDaily }, 0, 1<<30)},
	{"registered_rate", "20-S", "default rate of a registered developer's API key: N-S, N-M, N-H or N-D", str(func(c *Config) *string { return &c.RegisteredRate })},
	{"registered_daily", "100000", "daily quota of a registered developer's API key; 0 for none", intRange(func(c *Config) *int { return &c.RegisteredDaily }, 0, 1<<30)},
	{"partner_rate", "100-S", "rate of an approved partner's API key (the bureau sets a key's tier)", str(func(c *Config) *string { return &c.PartnerRate })},
	{"partner_daily", "2000000", "daily quota of an approved partner's API key; 0 for none", intRange(func(c *Config) *int { return &c.PartnerDaily }, 0, 1<<30)},
	{"key_max_days", "365", "longest lifetime of an API key in days; 0 for keys without expiry", intRange(func(c *Config) *int { return &c.KeyMaxDays }, 0, 3650)},
	{"key_cache_ttl", "1s", "how long an instance trusts a looked-up API key before asking the database again (expiry is checked on every call; a revocation on this instance acts at once, on others within this time)", duration(func(c *Config) *time.Duration { return &c.KeyCacheTTL })},
	{"application_days", "10", "working days a department has to answer an application for on-application data", intRange(func(c *Config) *int { return &c.ApplicationDays }, 1, 60)},
	{"signup_approval", "auto", "how a public sign-up becomes active: auto (e-mail verification when smtp_addr is set, otherwise a bureau admin activates) or admin (always the bureau)", oneOf(func(c *Config) *string { return &c.SignupApproval }, "auto", "admin")},
	{"query_cache_mb", "4096", "local disk cache of Parquet files the records API reads (MiB)", intRange(func(c *Config) *int { return &c.QueryCacheMB }, 64, 1<<20)},
	{"query_memory_mb", "1024", "memory limit of the records query engine (DuckDB, MiB)", intRange(func(c *Config) *int { return &c.QueryMemoryMB }, 64, 1<<20)},
	{"query_threads", "2", "worker threads of the records query engine", intRange(func(c *Config) *int { return &c.QueryThreads }, 1, 256)},
	{"query_timeout", "20s", "longest time one records query may run", duration(func(c *Config) *time.Duration { return &c.QueryTimeout })},
	{"max_body_kb", "1024", "largest JSON or form body of any route but uploads (which stream up to max_upload_mb), in KiB", intRange(func(c *Config) *int { return &c.MaxBodyKB }, 1, 1<<20)},
	{"max_auth_body_kb", "16", "largest body of sign-in, sign-up and account routes, in KiB", intRange(func(c *Config) *int { return &c.MaxAuthBodyKB }, 1, 1024)},
	{"password_hash_concurrency", "2", "password hashes (argon2id, 64 MiB each) run at once per server; up to 8 times as many callers queue, the rest are told to retry (503)", intRange(func(c *Config) *int { return &c.HashConcurrency }, 1, 256)},
	{"password_hash_wait", "5s", "longest a sign-in or sign-up waits in the hashing queue before a 503 with Retry-After", duration(func(c *Config) *time.Duration { return &c.HashWait })},
	{"login_ip_rate", "20-M", "sign-in attempts one client address may make (any account): N-S, N-M, N-H or N-D", str(func(c *Config) *string { return &c.LoginIPRate })},
	{"login_max_failures", "5", "wrong passwords in a row (within an hour) that lock an account; 0 for no lockout", intRange(func(c *Config) *int { return &c.LoginFailures }, 0, 1000)},
	{"login_lockout", "15m", "how long the first lockout lasts; each further one within a day doubles it", duration(func(c *Config) *time.Duration { return &c.LoginLockout })},
	{"login_max_lockout", "24h", "longest lockout", duration(func(c *Config) *time.Duration { return &c.LoginMaxLockout })},
	{"metrics_listen", "", "separate listen address for Prometheus /metrics, e.g. 127.0.0.1:9090 (no token there: bind it to an internal address); empty: no separate listener", str(func(c *Config) *string { return &c.MetricsListen })},
	{"metrics_token", "", "bearer token that opens /metrics on the main listen address; empty: /metrics is not served there", str(func(c *Config) *string { return &c.MetricsToken })},
	{"stats_min_count", "5", "k: the public sees a top value only when it is counted at least k times, and a histogram only with bars of at least k rows and rounded bounds (the providing department, the bureau and the office see full statistics)", intRange(func(c *Config) *int { return &c.StatsMinCount }, 1, 1000)},
	{"trust_proxy", "false", "take the client IP from X-Forwarded-For (only behind a proxy you run)", boolean(func(c *Config) *bool { return &c.TrustProxy })},
	{"demo", "false", "load demo data on serve if the database is empty", boolean(func(c *Config) *bool { return &c.Demo })},
	{"audit_key_file", "", "file of audit-chain keys (one hex secret per line, the last one current; keep it outside the database and its backups, the same file on every instance); empty: DATA_DIR/audit.key, created on first start", str(func(c *Config) *string { return &c.AuditKeyFile })},
	{"audit_checkpoint_interval", "1h", "how often a serve instance writes a signed checkpoint of the audit chain's head to the object store", duration(func(c *Config) *time.Duration { return &c.AuditCheckpointInt })},
}

// Default returns the configuration with every default applied.
func Default() Config {
	var c Config
	for _, o := range Options {
		if err := o.set(&c, o.Default); err != nil {
			panic(fmt.Sprintf("config: bad default for %s: %v", o.Key, err))
		}
	}
	return c
}

// Load applies, in order, the defaults, the optional TOML file at path and
// the environment (OPENDATA_…), then validates the result.
func Load(path string, environ []string) (Config, error) {
	c := Default()
	byKey := map[string]Option{}
	for _, o := range Options {
		byKey[o.Key] = o
	}
	if path != "" {
		var raw map[string]any
		if _, err := toml.DecodeFile(path, &raw); err != nil {
			return c, fmt.Errorf("config file %s: %w", path, err)
		}
		keys := make([]string, 0, len(raw))
		for k := range raw {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			o, ok := byKey[k]
			if !ok {
				return c, fmt.Errorf("config file %s: unknown option %q", path, k)
			}
			if err := o.set(&c, fmt.Sprint(raw[k])); err != nil {
				return c, fmt.Errorf("config file %s: %s: %w", path, k, err)
			}
		}
	}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "OPENDATA_") || name == "OPENDATA_CONFIG" {
			continue
		}
		o, ok := byKey[strings.ToLower(strings.TrimPrefix(name, "OPENDATA_"))]
		if !ok {
			return c, fmt.Errorf("unknown environment variable %s", name)
		}
		if err := o.set(&c, val); err != nil {
			return c, fmt.Errorf("%s: %w", name, err)
		}
	}
	return c, c.validate()
}

// FromEnv loads from OPENDATA_CONFIG (if set) and the process environment.
func FromEnv() (Config, error) {
	return Load(os.Getenv("OPENDATA_CONFIG"), os.Environ())
}

func (c *Config) validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("OPENDATA_DATA_DIR must not be empty")
	}
	if c.AuditKeyFile == "" {
		c.AuditKeyFile = filepath.Join(c.DataDir, "audit.key")
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return fmt.Errorf("OPENDATA_TIMEZONE: unknown time zone %q", c.TimeZone)
	}
	c.loc = loc
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "sqlite:") &&
		!strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return fmt.Errorf("OPENDATA_DATABASE_URL: must start with sqlite: or postgres://")
	}
	if c.BlobBackend == "minio" && (c.S3Endpoint == "" || c.S3AccessKey == "" || c.S3SecretKey == "") {
		return fmt.Errorf("blob_backend=minio needs OPENDATA_S3_ENDPOINT, OPENDATA_S3_ACCESS_KEY and OPENDATA_S3_SECRET_KEY")
	}
	if c.SearchBackend == "meilisearch" && c.MeiliURL == "" {
		return fmt.Errorf("search_backend=meilisearch needs OPENDATA_MEILISEARCH_URL")
	}
	if c.LimitStore == "redis" && c.RedisURL == "" {
		return fmt.Errorf("ratelimit_store=redis needs OPENDATA_REDIS_URL")
	}
	if _, err := ratelimit.ParseTier(c.AnonRate, int64(c.AnonDaily)); err != nil {
		return fmt.Errorf("OPENDATA_ANON_RATE: %w", err)
	}
	if _, err := ratelimit.ParseTier(c.RegisteredRate, int64(c.RegisteredDaily)); err != nil {
		return fmt.Errorf("OPENDATA_REGISTERED_RATE: %w", err)
	}
	if _, err := ratelimit.ParseTier(c.PartnerRate, int64(c.PartnerDaily)); err != nil {
		return fmt.Errorf("OPENDATA_PARTNER_RATE: %w", err)
	}
	if _, err := ratelimit.ParseTier(c.LoginIPRate, 0); err != nil {
		return fmt.Errorf("OPENDATA_LOGIN_IP_RATE: %w", err)
	}
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("OPENDATA_BASE_URL: must be an absolute URL")
		}
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Listen
	}
	return nil
}

// Location is the configured time zone, loaded once when the
// configuration was checked.
func (c Config) Location() *time.Location {
	if c.loc != nil && c.loc.String() == c.TimeZone {
		return c.loc
	}
	loc, err := time.LoadLocation(c.TimeZone) // a Config not made by Load
	if err != nil {
		return time.UTC
	}
	return loc
}

// SQLitePath is the SQLite file when the metadata database is SQLite, else "".
func (c Config) SQLitePath() string {
	switch {
	case c.DatabaseURL == "":
		return filepath.Join(c.DataDir, "opendata.db")
	case strings.HasPrefix(c.DatabaseURL, "sqlite:"):
		return strings.TrimPrefix(c.DatabaseURL, "sqlite:")
	}
	return ""
}

// Markdown renders the option table for the README.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| environment variable | file key | default | meaning |\n|---|---|---|---|\n")
	for _, o := range Options {
		fmt.Fprintf(&b, "| `%s` | `%s` | `%s` | %s |\n", o.Env(), o.Key, o.Default, o.Help)
	}
	return b.String()
}

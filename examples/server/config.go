package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/metrics"
	"github.com/identitykit/identity/store/blobstore/s3blob"
)

// config is every setting of the server. Each is a flag with an IDENTITY_* environment
// variable (see parseConfig); add new settings in parseConfig.
type config struct {
	Addr            string
	PublicURL       string
	DB              string
	TablePrefix     string
	AppName         string
	DenyAutoCreate  bool
	SessionIdle     time.Duration
	GuestLifetime   time.Duration
	CORSOrigins     []string
	MaxBodyBytes    int64
	JanitorInterval time.Duration
	// RecheckInterval is identity.Config.RecheckInterval: how long applications and sessions
	// are trusted from memory.
	RecheckInterval time.Duration
	// given names the flags set on the command line or by their variable (givenFlags).
	given           map[string]bool
	ShutdownTimeout time.Duration
	ShowSecret      bool
	AccessLog       bool
	LogLevel        slog.Level
	LogFormat       string
	// Rate limiting (ratelimit.go).
	RateLimit        bool
	RedisURL         string
	RedisPrefix      string
	TrustedProxies   []netip.Prefix
	ClientAddrHeader string
	// File storage (blobs.go).
	BlobDir      string
	MaxBlobBytes int64
	BlobGrantKey []byte
	// BlobS3 is the S3 bucket of uploaded files when BlobS3.Endpoint is set (instead of
	// BlobDir). Its SecretKey is never printed.
	BlobS3 s3blob.Config
	// External identity providers: Firebase, CIdP, OIDC (providers.go).
	Providers providerFlags
	// PprofAddr serves net/http/pprof on a loopback address (pprof.go); "" is off.
	PprofAddr string
	// MetricsAddr serves Prometheus metrics at /metrics on a listener of its own
	// (metrics.go); "" is off.
	MetricsAddr string
	// metrics is the server's Metrics while run runs with MetricsAddr (nil otherwise): the
	// store and the rate limits report to it. metricsBound, when set (by tests), is called
	// with the address the metrics listener got.
	metrics      *metrics.Metrics
	metricsBound func(addr string)
	// Password reset mail: SMTP or the development mode (mail.go).
	Mail mailFlags

	// NoMigrate: do not apply schema migrations at start; refuse to start while one is
	// pending ("server migrate up" applies them; migrate.go).
	NoMigrate bool

	// Access to users and sessions: application settings applied like DenyAutoCreate.
	DisableUserList  bool
	DisableUsersV1   bool
	HideContactInfo  bool
	RequireSignature bool
	// LocalSignUp is AppSettings.LocalSignUp: "" (allowed unless a CIdP takes the logins),
	// "allow" or "deny".
	LocalSignUp              string
	EmailChangeNeedsPassword bool
}

// applySettings returns s with the application settings this server's flags govern.
func (c *config) applySettings(s identity.AppSettings) identity.AppSettings {
	s.DenyAutoCreate = c.DenyAutoCreate
	s.DisableUserList = c.DisableUserList
	s.DisableUsersV1 = c.DisableUsersV1
	s.HideContactInfo = c.HideContactInfo
	s.RequireSignature = c.RequireSignature
	s.LocalSignUp = identity.LocalSignUp(c.LocalSignUp)
	s.EmailChangeNeedsPassword = c.EmailChangeNeedsPassword
	s.SessionIdle = c.SessionIdle
	s.GuestLifetime = c.GuestLifetime
	s = c.Providers.apply(s)
	return s
}

// parseConfig reads settings from args and the environment (getenv); a flag wins over its
// variable, which wins over the default. --help prints the list to usage and returns
// flag.ErrHelp.
func parseConfig(args []string, getenv func(string) string, usage io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(usage)
	var envErrs []string
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	str := func(p *string, name, envName, def, help string) {
		fs.StringVar(p, name, env(envName, def), help+" (env "+envName+")")
	}
	boolean := func(p *bool, name, envName string, def bool, help string) {
		v := def
		if s := env(envName, ""); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				envErrs = append(envErrs, fmt.Sprintf("%s=%q: not a boolean", envName, s))
			}
			v = b
		}
		fs.BoolVar(p, name, v, help+" (env "+envName+")")
	}
	duration := func(p *time.Duration, name, envName string, def time.Duration, help string) {
		v := def
		if s := env(envName, ""); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil {
				envErrs = append(envErrs, fmt.Sprintf("%s=%q: not a duration", envName, s))
			}
			v = d
		}
		fs.DurationVar(p, name, v, help+" (env "+envName+")")
	}
	var origins, level, proxies, grantKey string
	var maxBody int64

	str(&c.Addr, "addr", "IDENTITY_ADDR", ":8080", "listen address")
	str(&c.PublicURL, "public-url", "IDENTITY_PUBLIC_URL", "", "URL clients use to reach this server: upload URLs, password reset links and the startup banner start with it (default derived from -addr: http://localhost:<port>, logged at start)")
	str(&c.DB, "db", "IDENTITY_DB", "identity.db", "SQLite database file, or a postgres:// DSN")
	str(&c.TablePrefix, "table-prefix", "IDENTITY_TABLE_PREFIX", "identity_", "prefix of the tables the server creates and uses")
	str(&c.AppName, "app-name", "IDENTITY_APP_NAME", "default", "name of the application created on first start")
	boolean(&c.DenyAutoCreate, "deny-auto-create", "IDENTITY_DENY_AUTO_CREATE", false,
		"deny session creation for an unknown login/email (ConnectyCube's \"Session creation without an existing user entity\" = Deny)")
	boolean(&c.DisableUserList, "disable-user-list", "IDENTITY_DISABLE_USER_LIST", false,
		"refuse lists and searches of users (GET /users, /users/v2, by_full_name, by_tags: ConnectyCube's \"Allow to retrieve a list of users via API\" off); any application session may page through every user otherwise")
	boolean(&c.DisableUsersV1, "disable-users-v1", "IDENTITY_DISABLE_USERS_V1", false,
		"turn off the deprecated V1 users API: GET /users, other users by id, by_login, by_email... (ConnectyCube's \"Disable List Users API V1\")")
	boolean(&c.HideContactInfo, "hide-contact-info", "IDENTITY_HIDE_CONTACT_INFO", false,
		"answer other users' email and phone as null in lists and lookups (a session sees its own), and refuse prefix and range filters and sorting on them")
	boolean(&c.RequireSignature, "require-signature", "IDENTITY_REQUIRE_SIGNATURE", false,
		"refuse unsigned POST /session with 422 Unexpected signature (only for clients that all sign with the auth secret: current ConnectyCube SDKs do not)")
	str(&c.LocalSignUp, "local-sign-up", "IDENTITY_LOCAL_SIGN_UP", "",
		"whether POST /users and a guest's upgrade may create local password accounts: allow, deny, or empty for allowed unless -cidp-endpoint routes logins to your identity service")
	boolean(&c.EmailChangeNeedsPassword, "email-change-needs-password", "IDENTITY_EMAIL_CHANGE_NEEDS_PASSWORD", false,
		"a user changing its email must give its current password as old_password")
	duration(&c.SessionIdle, "session-idle", "IDENTITY_SESSION_IDLE", 2*time.Hour, "session lifetime after the last request")
	duration(&c.GuestLifetime, "guest-lifetime", "IDENTITY_GUEST_LIFETIME", 24*time.Hour, "lifetime of guest users and their sessions")
	str(&origins, "cors-origins", "IDENTITY_CORS_ORIGINS", "*", "comma-separated origins browsers may call from, or *")
	fs.Int64Var(&maxBody, "max-body-bytes", 1<<20, "largest accepted request body in bytes (env IDENTITY_MAX_BODY_BYTES)")
	if s := env("IDENTITY_MAX_BODY_BYTES", ""); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			envErrs = append(envErrs, fmt.Sprintf("IDENTITY_MAX_BODY_BYTES=%q: not a positive integer", s))
		}
		maxBody = n
	}
	duration(&c.JanitorInterval, "janitor-interval", "IDENTITY_JANITOR_INTERVAL", 10*time.Minute, "how often expired sessions, guests and nonces are deleted")
	duration(&c.RecheckInterval, "recheck-interval", "IDENTITY_RECHECK_INTERVAL", 5*time.Second,
		"how long a session or application read from the database is trusted from memory: the delay for changes made by another instance or by \"server apps set\" when the channel between instances (PostgreSQL or -redis-url) is down, or on SQLite")
	duration(&c.ShutdownTimeout, "shutdown-timeout", "IDENTITY_SHUTDOWN_TIMEOUT", 10*time.Second, "how long shutdown waits for requests in flight")
	boolean(&c.NoMigrate, "no-migrate", "IDENTITY_NO_MIGRATE", false,
		"do not apply pending schema migrations at start, refuse to start while one is pending instead (apply them with \"server migrate up\")")
	boolean(&c.ShowSecret, "show-secret", "IDENTITY_SHOW_SECRET", false, "print the application's auth secret at every start, not only when it is created")
	boolean(&c.AccessLog, "access-log", "IDENTITY_ACCESS_LOG", true, "log every request (method, path, status, duration)")
	str(&level, "log-level", "IDENTITY_LOG_LEVEL", "info", "log level: debug, info, warn or error")
	str(&c.LogFormat, "log-format", "IDENTITY_LOG_FORMAT", "text", "log format: text or json")
	boolean(&c.RateLimit, "rate-limit", "IDENTITY_RATE_LIMIT", true, "limit logins, session creation, sign-ups and password resets per client address, with a login tarpit (off only for load tests)")
	str(&c.RedisURL, "redis-url", "IDENTITY_REDIS_URL", "", "redis:// URL: keep rate limits in Redis, shared by every instance using it (default: in this process's memory)")
	str(&c.RedisPrefix, "redis-prefix", "IDENTITY_REDIS_PREFIX", "identity:ratelimit:", "prefix of the rate-limit keys in Redis")
	str(&proxies, "trusted-proxies", "IDENTITY_TRUSTED_PROXIES", "", "comma-separated addresses or CIDR prefixes of reverse proxies whose client address header is believed (default none: the connection's address counts)")
	str(&c.ClientAddrHeader, "client-addr-header", "IDENTITY_CLIENT_ADDR_HEADER", "X-Forwarded-For", "header trusted proxies put the client address in (X-Forwarded-For, Forwarded, X-Real-IP...)")
	str(&c.BlobDir, "blob-dir", "IDENTITY_BLOB_DIR", "", "directory of uploaded files (avatars), or off (default: blobs next to the SQLite database, ./blobs with PostgreSQL)")
	fs.Int64Var(&c.MaxBlobBytes, "max-blob-bytes", 10<<20, "largest accepted upload in bytes (env IDENTITY_MAX_BLOB_BYTES)")
	if s := env("IDENTITY_MAX_BLOB_BYTES", ""); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			envErrs = append(envErrs, fmt.Sprintf("IDENTITY_MAX_BLOB_BYTES=%q: not a positive integer", s))
		}
		c.MaxBlobBytes = n
	}
	grantKey = env("IDENTITY_BLOB_GRANT_KEY", "")
	fs.Var(secretFlag{&grantKey}, "blob-grant-key", "hex key (32+ bytes) signing upload URLs; give every instance of one deployment the same (default: random per process; env IDENTITY_BLOB_GRANT_KEY, better than the flag, which shows in the process list; never printed)")
	str(&c.BlobS3.Endpoint, "blob-s3-endpoint", "IDENTITY_BLOB_S3_ENDPOINT", "", "host[:port] of an S3-compatible server: keep uploaded files in its bucket -blob-s3-bucket instead of -blob-dir, so that every instance serves them")
	str(&c.BlobS3.Bucket, "blob-s3-bucket", "IDENTITY_BLOB_S3_BUCKET", "", "S3 bucket of uploaded files (must exist)")
	str(&c.BlobS3.Prefix, "blob-s3-prefix", "IDENTITY_BLOB_S3_PREFIX", "", "prefix of the object names in the bucket (segments of letters, digits, - and _; default none)")
	str(&c.BlobS3.Region, "blob-s3-region", "IDENTITY_BLOB_S3_REGION", "us-east-1", "region of the S3 bucket")
	str(&c.BlobS3.AccessKey, "blob-s3-access-key", "IDENTITY_BLOB_S3_ACCESS_KEY", "", "S3 access key")
	c.BlobS3.SecretKey = env("IDENTITY_BLOB_S3_SECRET_KEY", "")
	fs.Var(secretFlag{&c.BlobS3.SecretKey}, "blob-s3-secret-key", "S3 secret key (env IDENTITY_BLOB_S3_SECRET_KEY, better than the flag, which shows in the process list; never printed)")
	blobS3TLS := true
	boolean(&blobS3TLS, "blob-s3-tls", "IDENTITY_BLOB_S3_TLS", true, "talk HTTPS to the S3 server (false: plain HTTP, for a server on the same host or network only)")
	addProviderFlags(fs, env, &envErrs, &c.Providers)
	addMailFlags(fs, env, &envErrs, &c.Mail)
	str(&c.PprofAddr, "pprof-addr", "IDENTITY_PPROF_ADDR", "", "serve net/http/pprof profiles at http://<addr>/debug/pprof/ (loopback addresses only; default off)")
	str(&c.MetricsAddr, "metrics-addr", "IDENTITY_METRICS_ADDR", "", "serve Prometheus metrics at http://<addr>/metrics, on a listener of its own (e.g. 127.0.0.1:9090; default off)")

	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage: server [flags]\n       server migrate status|up [flags]\n       server apps|users COMMAND [flags]\n\nRuns the identity ConnectyCube-compatible auth and users API, applying pending schema\nmigrations first (unless -no-migrate). \"server migrate -help\" lists and applies them alone.\nThe first start creates an application with the settings of the flags; after that its settings\nlive in the database: \"server apps -help\" and \"server users -help\" manage applications and users.\nEvery flag can also be set by the environment variable shown; a flag wins.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c.given = givenFlags(fs, getenv)
	if len(envErrs) > 0 {
		return nil, fmt.Errorf("bad environment: %s", strings.Join(envErrs, "; "))
	}
	if err := checkPprofAddr(c.PprofAddr); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	switch identity.LocalSignUp(c.LocalSignUp) {
	case identity.LocalSignUpDefault, identity.LocalSignUpAllow, identity.LocalSignUpDeny:
	default:
		return nil, fmt.Errorf("-local-sign-up %q: want allow, deny or nothing", c.LocalSignUp)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, fmt.Errorf("-log-format %q: want text or json", c.LogFormat)
	}
	for _, o := range strings.Split(origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	var err error
	if c.TrustedProxies, err = parseProxies(proxies); err != nil {
		return nil, err
	}
	if maxBody <= 0 {
		return nil, fmt.Errorf("-max-body-bytes must be positive")
	}
	if c.MaxBlobBytes <= 0 {
		return nil, fmt.Errorf("-max-blob-bytes must be positive")
	}
	if c.BlobGrantKey, err = parseGrantKey(strings.TrimSpace(grantKey)); err != nil {
		return nil, err
	}
	c.BlobS3.InsecureNoTLS = !blobS3TLS
	if err := c.checkBlobS3(); err != nil {
		return nil, err
	}
	if err := c.Providers.check(); err != nil {
		return nil, err
	}
	if err := c.Mail.check(); err != nil {
		return nil, err
	}
	c.MaxBodyBytes = maxBody
	if c.SessionIdle <= 0 || c.GuestLifetime <= 0 || c.JanitorInterval <= 0 || c.ShutdownTimeout <= 0 || c.RecheckInterval <= 0 {
		return nil, fmt.Errorf("durations must be positive")
	}
	if c.DB == "" {
		return nil, fmt.Errorf("-db must not be empty")
	}
	return c, nil
}

// Command usersearch measures user retrieval at scale: it loads a population of users (one
// million by default) into SQLite and/or PostgreSQL, then sends the example queries of the
// ConnectyCube "Retrieve users V2" documentation, start_with, V1 filter[] and
// by_tags requests through the HTTP adapter (an in-process server on loopback) and prints
// p50/p99 latencies as a Markdown table.
//
//	go run ./bench/usersearch -db sqlite                          # SQLite file in the temp dir
//	go run ./bench/usersearch -db postgres -dsn postgres://...    # PostgreSQL (tables usersearch_*)
//	go run ./bench/usersearch -db both -explain                   # and print each query's plan
//
// The population is loaded once and reused by later runs with the same -users and -seed
// (-reload forces a new load; -drop removes the PostgreSQL tables at the end). Requests are
// sent one at a time; each query is run -n times with varying values after -warmup runs.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/store/gormstore"
)

type options struct {
	db, sqlitePath, dsn, prefix string
	users, n, warmup            int
	seed                        uint64
	reload, drop, explain       bool
	cpuprofile, only            string
}

func main() {
	var o options
	flag.StringVar(&o.db, "db", "both", "database: sqlite, postgres or both")
	flag.StringVar(&o.sqlitePath, "sqlite", filepath.Join(os.TempDir(), "identity-usersearch.db"), "SQLite database file, with driver options after '?' as gormstore.OpenSQLite takes them")
	flag.StringVar(&o.dsn, "dsn", os.Getenv("IDENTITY_TEST_POSTGRES_DSN"), "PostgreSQL DSN (default $IDENTITY_TEST_POSTGRES_DSN)")
	flag.StringVar(&o.prefix, "prefix", "usersearch_", "table prefix of the PostgreSQL tables")
	flag.IntVar(&o.users, "users", 1000000, "users to load")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the generated population and of the query values")
	flag.IntVar(&o.n, "n", 1000, "measured requests per query")
	flag.IntVar(&o.warmup, "warmup", 100, "unmeasured requests per query before measuring")
	flag.BoolVar(&o.reload, "reload", false, "load the population even if it is already there")
	flag.BoolVar(&o.drop, "drop", false, "drop the PostgreSQL tables at the end")
	flag.BoolVar(&o.explain, "explain", false, "print the plan of each query's statements (EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the measured requests to this file")
	flag.StringVar(&o.only, "only", "", "measure only the queries whose name contains this text")
	flag.Parse()
	log.SetFlags(log.Ltime)

	var dbs []string
	switch o.db {
	case "sqlite", "postgres":
		dbs = []string{o.db}
	case "both":
		dbs = []string{"sqlite", "postgres"}
	default:
		log.Fatalf("usersearch: -db must be sqlite, postgres or both")
	}
	fmt.Printf("usersearch: %d users, %d requests per query (after %d warm-up), GOMAXPROCS %d, load average %s\n\n",
		o.users, o.n, o.warmup, runtime.GOMAXPROCS(0), loadAverage())
	for _, db := range dbs {
		if err := run(context.Background(), o, db); err != nil {
			log.Fatalf("usersearch: %s: %v", db, err)
		}
	}
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// openGorm opens the database with logger l, for EXPLAIN.
func openGorm(o options, db string, l logger.Interface) (*gorm.DB, error) {
	switch db {
	case "sqlite":
		dsn := o.sqlitePath
		if !strings.Contains(dsn, "?") {
			dsn += "?_busy_timeout=5000"
		}
		return gorm.Open(sqlite.Open(dsn), &gorm.Config{SkipDefaultTransaction: true, Logger: l, PrepareStmt: true, PrepareStmtMaxSize: 256})
	default:
		return gorm.Open(postgres.Open(o.dsn), &gorm.Config{SkipDefaultTransaction: true, Logger: l})
	}
}

func run(ctx context.Context, o options, db string) error {
	if db == "postgres" && o.dsn == "" {
		return fmt.Errorf("no -dsn and IDENTITY_TEST_POSTGRES_DSN is not set")
	}
	prefix := gormstore.DefaultTablePrefix
	if db == "postgres" {
		prefix = o.prefix
	}
	// The measured store is opened exactly as applications open it.
	var st *gormstore.Store
	var err error
	if db == "sqlite" {
		st, err = gormstore.OpenSQLite(o.sqlitePath, gormstore.Config{TablePrefix: prefix})
	} else {
		st, err = gormstore.OpenPostgres(o.dsn, gormstore.Config{TablePrefix: prefix})
	}
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	pw, err := password.New(password.Config{Memory: 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		return err
	}
	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	app, err := population(ctx, o, db, st, id, prefix)
	if err != nil {
		return err
	}

	srv := httptest.NewServer(httpadapter.New(id, httpadapter.Config{}))
	defer srv.Close()
	c := &client{base: srv.URL, http: srv.Client()}
	if err := c.login(app); err != nil {
		return err
	}
	qs, err := queries(ctx, o, st, prefix, app)
	if err != nil {
		return err
	}
	fmt.Printf("### %s (%s)\n\n", db, describeDB(ctx, st, db))
	fmt.Println("| query | example request | p50 | p99 | max | total_entries |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, q := range qs {
		if !strings.Contains(q.name, o.only) {
			continue
		}
		res, err := c.measure(q, o)
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		fmt.Printf("| %s | `%s` | %s | %s | %s | %s |\n", q.name, q.example(), ms(res.p50), ms(res.p99), ms(res.max), res.total)
	}
	fmt.Println()
	if o.explain {
		if err := explain(ctx, o, db, prefix, app, c.token, qs); err != nil {
			return err
		}
	}
	if o.drop && db == "postgres" {
		var tables []string
		if err := st.DB().Raw("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, ?)", prefix).Scan(&tables).Error; err != nil {
			return err
		}
		for _, t := range tables {
			if err := st.DB().Exec(`DROP TABLE IF EXISTS "` + t + `" CASCADE`).Error; err != nil {
				return err
			}
		}
		log.Printf("%s: dropped the %s* tables", db, prefix)
	}
	return nil
}

func describeDB(ctx context.Context, st *gormstore.Store, db string) string {
	var v string
	if db == "sqlite" {
		st.DB().WithContext(ctx).Raw("SELECT 'SQLite ' || sqlite_version()").Scan(&v)
		return v
	}
	st.DB().WithContext(ctx).Raw("SELECT split_part(version(), ' ', 2) || ', collation ' || datcollate FROM pg_database WHERE datname = current_database()").Scan(&v)
	return "PostgreSQL " + v
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// population returns the benchmark application, loading its users first unless an
// application of the same size and seed exists.
func population(ctx context.Context, o options, db string, st *gormstore.Store, id *identity.Identity, prefix string) (*identity.Application, error) {
	name := fmt.Sprintf("usersearch %d users seed %d", o.users, o.seed)
	apps, err := st.Applications(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		if a.Name == name && !o.reload {
			log.Printf("%s: reusing application %d (%s)", db, a.ID, name)
			return a, nil
		}
	}
	app, err := id.CreateApplication(ctx, name, identity.AppSettings{})
	if err != nil {
		return nil, err
	}
	var firstID int64
	if err := st.DB().WithContext(ctx).Raw("SELECT coalesce(max(id), 0) + 1 FROM " + prefix + "users").Scan(&firstID).Error; err != nil {
		return nil, err
	}
	sqlDB, err := st.DB().DB()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	progress := func(n int) { log.Printf("%s: %d users loaded (%s)", db, n, time.Since(start).Round(time.Second)) }
	users, tags := prefix+"users", prefix+"user_tags"
	switch db {
	case "sqlite":
		l := &sqliteLoader{ctx: ctx, db: sqlDB, appID: app.ID, usersTable: users, tagsTbl: tags}
		if err := loadUsers(o.users, firstID, o.seed, l, progress); err != nil {
			return nil, err
		}
	default:
		err := withPgConn(ctx, sqlDB, func(conn *pgx.Conn) error {
			l := &pgLoader{ctx: ctx, conn: conn, appID: app.ID, usersTable: users, tagsTbl: tags}
			return loadUsers(o.users, firstID, o.seed, l, progress)
		})
		if err != nil {
			return nil, err
		}
		// Move the id sequence past the loaded ids.
		if err := st.DB().Exec("SELECT setval(pg_get_serial_sequence(?, 'id'), (SELECT max(id) FROM "+users+"))", users).Error; err != nil {
			return nil, err
		}
		// The loader writes raw rows without the key bookkeeping (key_version,
		// login_skeleton): Migrate completes it now, as it does for any bulk import, rather
		// than at the next start, where it would rewrite every row after the VACUUM below
		// and leave index-only scans reading the heap until the next vacuum (autovacuum may
		// be off, as on this project's test machines).
		if err := st.Migrate(ctx); err != nil {
			return nil, err
		}
		// Let the planner know the data and mark the pages all-visible (what autovacuum does
		// soon after a bulk load, when it is on).
		for _, t := range []string{users, tags} {
			if err := st.DB().Exec("VACUUM ANALYZE " + t).Error; err != nil {
				return nil, err
			}
		}
	}
	log.Printf("%s: loaded %d users in %s", db, o.users, time.Since(start).Round(time.Second))
	return app, nil
}

// query is one measured request shape; path returns the i-th request's path and query.
type query struct {
	name string
	path func(i int) string
}

func (q query) example() string {
	p, _ := url.PathUnescape(q.path(0))
	return p
}

// sample holds values of real users to query by.
type sample struct {
	id                int64
	login, phone, pfx string
}

// queries returns the measured requests, with values drawn from samples of the population.
func queries(ctx context.Context, o options, st *gormstore.Store, prefix string, app *identity.Application) ([]query, error) {
	var minID, maxID int64
	row := st.DB().WithContext(ctx).Raw("SELECT min(id), max(id) FROM "+prefix+"users WHERE application_id = ?", app.ID).Row()
	if err := row.Scan(&minID, &maxID); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(o.seed, 7))
	var samples []sample
	for len(samples) < 500 {
		u, err := st.User(ctx, app.ID, minID+r.Int64N(maxID-minID+1))
		if err != nil || u.Phone == "" {
			continue
		}
		samples = append(samples, sample{id: u.ID, login: u.Login, phone: u.Phone, pfx: string([]rune(u.Login)[:4])})
	}
	s := func(i int) sample { return samples[i%len(samples)] }
	id := func(i int) int64 { return s(i).id }
	esc := url.QueryEscape
	names := []string{"hunter", "james", "mary", "marvin", "zola", "smith"}
	return []query{
		{"V2 id (docs example 1)", func(i int) string { return fmt.Sprintf("/users/v2?id=%d", id(i)) }},
		{"V2 id in + last_request_at gt (docs example 2)", func(i int) string {
			return fmt.Sprintf("/users/v2?id[in][]=%d&id[in][]=%d&last_request_at[gt]=2018-12-06T09:21:41Z", id(i), id(i+1))
		}},
		{"V2 user_tags (docs example 3)", func(i int) string { return "/users/v2?user_tags=guest" }},
		{"V2 user_tags + created_at lt (docs example 4)", func(i int) string { return "/users/v2?user_tags=guest&created_at[lt]=1690886495" }},
		{"V2 login + phone + user_tags nin + updated_at lte (docs example 5)", func(i int) string {
			return "/users/v2?login=" + esc(s(i).login) + "&phone=" + esc(s(i).phone) + "&user_tags[nin][]=vip&updated_at[lte]=2030-01-01T00:00:00Z"
		}},
		{"V2 full_name start_with + id nin (docs example 6)", func(i int) string {
			return "/users/v2?full_name[start_with]=" + names[i%len(names)] + "&id[nin][]=68647"
		}},
		{"V2 phone + last_request_at eq (docs example 7)", func(i int) string {
			return "/users/v2?phone=" + esc(s(i).phone) + "&last_request_at=2020-11-09T08:21:41Z"
		}},
		{"V2 login start_with", func(i int) string { return "/users/v2?login[start_with]=" + esc(s(i).pfx) }},
		{"V2 id + JavaScript Date", func(i int) string {
			return fmt.Sprintf("/users/v2?id=%d&last_request_at[gt]=%s", id(i), esc("Fri Nov 10 2017 00:00:00 GMT+0000 (Coordinated Universal Time)"))
		}},
		{"V1 filter[] id in (seed)", func(i int) string {
			return fmt.Sprintf("/users?filter[]=%s&page=1&per_page=5", esc(fmt.Sprintf("number id in %d,%d", id(i), id(i+1))))
		}},
		{"V1 filter[] login eq", func(i int) string {
			return "/users?filter[]=" + esc("string login eq "+s(i).login)
		}},
		{"V1 filter[] created_at between + order", func(i int) string {
			return "/users?filter[]=" + esc("date created_at between 2020-03-01,2020-03-02") + "&order=" + esc("desc date created_at")
		}},
		{"V1 by_tags vip", func(i int) string { return "/users/by_tags?tags=vip" }},
		{"V1 by_tags guest (20 % of users)", func(i int) string { return "/users/by_tags?tags=guest&per_page=10" }},
		{"V1 by_login", func(i int) string { return "/users/by_login?login=" + esc(s(i).login) }},
	}, nil
}

// client sends requests with an application session token.
type client struct {
	base, token string
	http        *http.Client
}

func (c *client) login(app *identity.Application) error {
	body := fmt.Sprintf(`{"application_id":%d,"auth_key":%q}`, app.ID, app.AuthKey)
	res, err := c.http.Post(c.base+"/session", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var s struct {
		Session struct{ Token string } `json:"session"`
	}
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil || s.Session.Token == "" {
		return fmt.Errorf("create session: status %d, %v", res.StatusCode, err)
	}
	c.token = s.Session.Token
	return nil
}

func (c *client) get(path string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("CB-Token", c.token)
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

type result struct {
	p50, p99, max time.Duration
	total         string
}

func (c *client) measure(q query, o options) (result, error) {
	var res result
	for i := 0; i < o.warmup; i++ {
		if _, _, err := c.get(q.path(i + o.n)); err != nil {
			return res, err
		}
	}
	d := make([]time.Duration, o.n)
	for i := range d {
		start := time.Now()
		status, body, err := c.get(q.path(i))
		d[i] = time.Since(start)
		if err != nil {
			return res, err
		}
		if status != http.StatusOK {
			return res, fmt.Errorf("%s: status %d: %s", q.path(i), status, body)
		}
		if i == 0 {
			var page struct {
				Total *int64 `json:"total_entries"`
			}
			json.Unmarshal(body, &page)
			res.total = "—"
			if page.Total != nil {
				res.total = strconv.FormatInt(*page.Total, 10)
			}
		}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	res.p50 = d[len(d)/2]
	res.p99 = d[(len(d)*99+99)/100-1]
	res.max = d[len(d)-1]
	return res, nil
}

// explain sends each query's first request once more through a second adapter whose store
// logs every statement with its values, and prints the plan of the search statements.
func explain(ctx context.Context, o options, db, prefix string, app *identity.Application, token string, qs []query) error {
	capture := &captureLogger{}
	gdb, err := openGorm(o, db, capture)
	if err != nil {
		return err
	}
	st, err := gormstore.New(gdb, gormstore.Config{TablePrefix: prefix})
	if err != nil {
		return err
	}
	defer st.Close()
	pw, _ := password.New(password.Config{Memory: 1024, Iterations: 1, Parallelism: 1})
	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	h := httpadapter.New(id, httpadapter.Config{})
	users := prefix + "users u"
	for _, q := range qs {
		if !strings.Contains(q.name, o.only) {
			continue
		}
		capture.stmts = nil
		req := httptest.NewRequest(http.MethodGet, q.path(0), nil)
		req.Header.Set("CB-Token", token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Printf("#### %s: %s\n\n", db, q.name)
		for _, stmt := range capture.stmts {
			if !strings.Contains(stmt, users) {
				continue
			}
			fmt.Printf("```\n%s\n", stmt)
			var plan []string
			if db == "sqlite" {
				rows, err := gdb.WithContext(ctx).Raw("EXPLAIN QUERY PLAN " + stmt).Rows()
				if err != nil {
					return err
				}
				for rows.Next() {
					var id, parent, unused int
					var detail string
					if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
						rows.Close()
						return err
					}
					plan = append(plan, detail)
				}
				rows.Close()
			} else {
				if err := gdb.WithContext(ctx).Raw("EXPLAIN (ANALYZE, BUFFERS) " + stmt).Scan(&plan).Error; err != nil {
					return err
				}
			}
			fmt.Printf("%s\n```\n\n", strings.Join(plan, "\n"))
		}
	}
	return nil
}

// captureLogger records every statement with its values interpolated.
type captureLogger struct{ stmts []string }

func (l *captureLogger) LogMode(logger.LogLevel) logger.Interface      { return l }
func (l *captureLogger) Info(context.Context, string, ...interface{})  {}
func (l *captureLogger) Warn(context.Context, string, ...interface{})  {}
func (l *captureLogger) Error(context.Context, string, ...interface{}) {}
func (l *captureLogger) Trace(_ context.Context, _ time.Time, fc func() (string, int64), _ error) {
	s, _ := fc()
	l.stmts = append(l.stmts, s)
}

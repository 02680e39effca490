package password

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/identitykit/identity"
)

type fakeUsers map[string]*identity.User

func (f fakeUsers) UserByLogin(_ context.Context, login string) (*identity.User, error) {
	if u, ok := f[identity.NormalizeLogin(login)]; ok {
		return u, nil
	}
	return nil, identity.ErrUserNotFound
}

func (f fakeUsers) UserByEmail(_ context.Context, email string) (*identity.User, error) {
	for _, u := range f {
		if u.Email != "" && u.Email == identity.NormalizeEmail(email) {
			return u, nil
		}
	}
	return nil, identity.ErrUserNotFound
}

// cheap returns a provider with small parameters and counted primitives.
func cheap(t *testing.T, cfg Config) (*Provider, *atomic.Int64, *atomic.Int64) {
	t.Helper()
	if cfg.Memory == 0 {
		cfg.Memory = 64
		cfg.Iterations = 1
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var compares, creates atomic.Int64
	cmp, cr := p.compare, p.create
	p.compare = func(pw, h string) (bool, *argon2id.Params, error) { compares.Add(1); return cmp(pw, h) }
	p.create = func(pw string, ps *argon2id.Params) (string, error) { creates.Add(1); return cr(pw, ps) }
	return p, &compares, &creates
}

func request(app *identity.Application, users fakeUsers, login, email, pw string) *identity.AuthRequest {
	return &identity.AuthRequest{
		Application: app,
		Credentials: identity.Credentials{Login: login, Email: email, Password: pw},
		Users:       users,
		Now:         time.Now(),
	}
}

func TestAuthenticate(t *testing.T) {
	p, compares, creates := cheap(t, Config{})
	ctx := context.Background()
	hash, err := p.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	users := fakeUsers{
		"alice":          {ID: 7, Login: "Alice", Email: "alice@example.com", PasswordHash: hash},
		"guest_login_ab": {ID: 8, Login: "guest_login_AB", IsGuest: true},
		"ext":            {ID: 9, Login: "ext"},
	}
	allow := &identity.Application{ID: 1}
	deny := &identity.Application{ID: 2, Settings: identity.AppSettings{DenyAutoCreate: true}}

	tests := []struct {
		name         string
		app          *identity.Application
		login, email string
		pw           string
		wantErr      error
		wantUser     int64
		wantNew      bool
		wantCompares int64
		wantCreates  int64
	}{
		{"right password by login", allow, "alice", "", "correct horse", nil, 7, false, 1, 0},
		{"login is case-insensitive", allow, "ALICE", "", "correct horse", nil, 7, false, 1, 0},
		{"right password by email", allow, "", "Alice@Example.com", "correct horse", nil, 7, false, 1, 0},
		{"wrong password", allow, "alice", "", "wrong horse", identity.ErrInvalidCredentials, 0, false, 1, 0},
		{"unknown user, deny", deny, "bob", "", "whatever1", identity.ErrInvalidCredentials, 0, false, 1, 0},
		{"unknown user, allow creates", allow, "bob", "", "whatever1", nil, 0, true, 0, 1},
		{"unknown user, allow, short password", allow, "bob", "", "short", identity.ErrInvalidCredentials, 0, false, 1, 0},
		{"guest cannot log in", allow, "guest_login_AB", "", "anything1", identity.ErrInvalidCredentials, 0, false, 1, 0},
		{"passwordless user cannot log in", allow, "ext", "", "anything1", identity.ErrInvalidCredentials, 0, false, 1, 0},
		{"too long password", allow, "alice", "", strings.Repeat("x", 129), identity.ErrInvalidCredentials, 0, false, 1, 0},
		{"no password", allow, "alice", "", "", identity.ErrInvalidInput, 0, false, 0, 0},
		{"no login", allow, "", "", "x", identity.ErrInvalidInput, 0, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			compares.Store(0)
			creates.Store(0)
			c, err := p.Authenticate(ctx, request(tt.app, users, tt.login, tt.email, tt.pw))
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil {
				if c.UserID != tt.wantUser || c.NewUser != tt.wantNew {
					t.Fatalf("claims = %+v", c)
				}
				if tt.wantNew && (c.PasswordHash == "" || c.Profile.Login == nil || *c.Profile.Login != tt.login) {
					t.Fatalf("new-user claims incomplete: %+v", c)
				}
			}
			if compares.Load() != tt.wantCompares || creates.Load() != tt.wantCreates {
				t.Fatalf("argon2id work: %d verifications, %d hashes; want %d, %d",
					compares.Load(), creates.Load(), tt.wantCompares, tt.wantCreates)
			}
		})
	}
}

// An unknown login and a wrong password must cost the same argon2id work.
func TestUnknownUserCostsOneVerification(t *testing.T) {
	p, compares, creates := cheap(t, Config{})
	ctx := context.Background()
	hash, _ := p.Hash(ctx, "correct horse")
	users := fakeUsers{"alice": {ID: 7, Login: "alice", PasswordHash: hash}}
	deny := &identity.Application{ID: 2, Settings: identity.AppSettings{DenyAutoCreate: true}}
	count := func(login string) int64 {
		compares.Store(0)
		creates.Store(0)
		if _, err := p.Authenticate(ctx, request(deny, users, login, "", "wrong horse")); !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Fatalf("%s: %v", login, err)
		}
		return compares.Load() + creates.Load()
	}
	if a, b := count("alice"), count("nobody"); a != 1 || b != 1 {
		t.Fatalf("wrong password spent %d argon2id operations, unknown user %d; want 1 and 1", a, b)
	}
}

func TestRehashWhenParametersChange(t *testing.T) {
	old, _, _ := cheap(t, Config{Memory: 64, Iterations: 1})
	cur, _, _ := cheap(t, Config{Memory: 128, Iterations: 1})
	ctx := context.Background()
	h, _ := old.Hash(ctx, "correct horse")
	users := fakeUsers{"alice": {ID: 7, Login: "alice", PasswordHash: h}}
	c, err := cur.Authenticate(ctx, request(&identity.Application{ID: 1}, users, "alice", "", "correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Rehash == "" || !strings.Contains(c.Rehash, "m=128,") {
		t.Fatalf("no rehash with current parameters: %q", c.Rehash)
	}
	same, _, _ := cheap(t, Config{Memory: 64, Iterations: 1})
	c, err = same.Authenticate(ctx, request(&identity.Application{ID: 1}, users, "alice", "", "correct horse"))
	if err != nil || c.Rehash != "" {
		t.Fatalf("rehash with unchanged parameters: %v %q", err, c.Rehash)
	}
}

func TestVerifyRejectsOutOfBoundsHash(t *testing.T) {
	p, compares, _ := cheap(t, Config{})
	ctx := context.Background()
	for _, h := range []string{
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5", // 4 GiB
		"$argon2id$v=19$m=64,t=1000,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
		"not a hash",
		"",
	} {
		compares.Store(0)
		ok, _, err := p.Verify(ctx, "pw", h)
		if ok || err != nil {
			t.Fatalf("Verify(%q) = %v, %v", h, ok, err)
		}
		if compares.Load() != 1 {
			t.Fatalf("Verify(%q) spent %d verifications, want 1 (against the dummy)", h, compares.Load())
		}
	}
}

func TestBusyWhenSaturated(t *testing.T) {
	p, _, _ := cheap(t, Config{MaxConcurrent: 1, MaxWait: time.Millisecond})
	release := make(chan struct{})
	entered := make(chan struct{})
	cr := p.create
	p.create = func(pw string, ps *argon2id.Params) (string, error) {
		close(entered)
		<-release
		return cr(pw, ps)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := p.Hash(context.Background(), "first"); err != nil {
			t.Error(err)
		}
	}()
	<-entered
	if _, _, err := p.Verify(context.Background(), "second", "x"); !errors.Is(err, identity.ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p2, _, _ := cheap(t, Config{MaxConcurrent: 1, MaxWait: time.Hour})
	p2.slots <- struct{}{}
	if _, err := p2.Hash(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(release)
	wg.Wait()
}

func TestNewRejectsBadParameters(t *testing.T) {
	for _, cfg := range []Config{
		{Memory: 1 << 30},
		{Iterations: 100},
		{Memory: 4, Parallelism: 1},
	} {
		if _, err := New(cfg); err == nil {
			t.Fatalf("New(%+v) accepted", cfg)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	p, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	h, _ := p.Hash(context.Background(), "correct horse battery")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ok, _, _ := p.Verify(context.Background(), "correct horse battery", h); !ok {
			b.Fatal("no match")
		}
	}
}

// BenchmarkRawArgon2id is the baseline: argon2id.ComparePasswordAndHash at the same parameters.
func BenchmarkRawArgon2id(b *testing.B) {
	p, _ := New(Config{})
	params := p.Params()
	h, _ := argon2id.CreateHash("correct horse battery", &params)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ok, _ := argon2id.ComparePasswordAndHash("correct horse battery", h); !ok {
			b.Fatal("no match")
		}
	}
}

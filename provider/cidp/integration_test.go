package cidp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/provider/cidp"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/store/gormstore"
)

// newIdentity builds an Identity on a fresh SQLite file with the given providers.
func newIdentity(t *testing.T, now func() time.Time, providers ...identity.Provider) *identity.Identity {
	t.Helper()
	st, err := gormstore.OpenSQLite(filepath.Join(t.TempDir(), "identity.db"), gormstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	pw, err := password.New(password.Config{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: append([]identity.Provider{pw}, providers...), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// newDirectoryIdentity starts a directory behind a verify endpoint (closed when t ends) and
// returns it with a cidp provider and an Identity using that provider.
func newDirectoryIdentity(t *testing.T) (*directory, *httptest.Server, *cidp.Provider, *identity.Identity) {
	t.Helper()
	dir := &directory{users: map[string]map[string]any{}}
	srv := httptest.NewServer(dir)
	t.Cleanup(srv.Close)
	p, err := cidp.New(cidp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return dir, srv, p, newIdentity(t, nil, p)
}

// directory is a fake user directory behind a CIdP verify endpoint: token → user.
type directory struct {
	mu    sync.Mutex
	users map[string]map[string]any
}

func (d *directory) set(token string, user map[string]any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users[token] = user
}

func (d *directory) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[r.URL.Query().Get("token")]
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"User token is invalid"}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"user": u})
}

func TestCIdPThroughIdentity(t *testing.T) {
	ctx := context.Background()
	dir, srv, p, id := newDirectoryIdentity(t)
	var settings identity.AppSettings
	err := p.Enable(&settings, cidp.AppConfig{
		Endpoint:      srv.URL + "/verify",
		RequestParams: map[string]string{"token": "#{login}"},
		ResponseParams: map[string]string{
			"uid": "#{user.id}", "login": "#{user.login}", "email": "#{user.email}", "full_name": "#{user.name}",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	app, err := id.CreateApplication(ctx, "cidp", settings)
	if err != nil {
		t.Fatal(err)
	}
	login := func(token string) (*identity.Session, error) {
		return id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey,
			Credentials: &identity.Credentials{Login: token, Password: "any"}})
	}

	dir.set("tok-1", map[string]any{"id": 2345, "login": "simon371", "email": "simon@example.com", "name": "Simon"})
	s1, err := login("tok-1")
	if err != nil {
		t.Fatal(err)
	}
	u := s1.User
	if u.Login != "simon371" || u.Email != "simon@example.com" || u.FullName != "Simon" || u.PasswordHash != "" {
		t.Fatalf("created user %+v", u)
	}

	// A returning user (new token, changed name) keeps its one account, refreshed.
	dir.set("tok-2", map[string]any{"id": 2345, "login": "simon371", "email": "simon@example.com", "name": "Simon Doe"})
	s2, err := login("tok-2")
	if err != nil {
		t.Fatal(err)
	}
	if s2.User.ID != u.ID || s2.User.FullName != "Simon Doe" {
		t.Fatalf("returning user: got id %d name %q, want id %d name %q", s2.User.ID, s2.User.FullName, u.ID, "Simon Doe")
	}
	got, err := id.User(ctx, s2, u.ID)
	if err != nil || got.FullName != "Simon Doe" {
		t.Fatalf("stored user %+v, %v", got, err)
	}

	// POST /login: an application session upgraded with the token as login.
	as, err := id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey})
	if err != nil {
		t.Fatal(err)
	}
	s3, err := id.Login(ctx, as, identity.Credentials{Login: "tok-1", Password: "x"})
	if err != nil || s3.UserID != u.ID {
		t.Fatalf("Login = %+v, %v; want user %d", s3, err, u.ID)
	}

	// Connect to chat: user id + session token.
	cu, err := id.AuthenticateUserToken(ctx, u.ID, s1.Token)
	if err != nil || cu.ID != u.ID {
		t.Fatalf("AuthenticateUserToken = %+v, %v", cu, err)
	}
	if _, err := id.AuthenticateUserToken(ctx, u.ID+1, s1.Token); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Errorf("chat login with another user id: err = %v", err)
	}

	// A refused token, and a new uid whose email belongs to the first user.
	if _, err := login("bogus"); !errors.Is(err, identity.ErrRejectedByProvider) {
		t.Errorf("refused token: err = %v", err)
	}
	dir.set("tok-3", map[string]any{"id": 999, "login": "other", "email": "SIMON@example.com"})
	if _, err := login("tok-3"); !errors.Is(err, identity.ErrUserExists) {
		t.Errorf("email collision: err = %v, want ErrUserExists", err)
	}
}

func TestConcurrentFirstLoginsMakeOneUser(t *testing.T) {
	tests := []struct {
		name     string
		response map[string]string
	}{
		{name: "uid only", response: map[string]string{"uid": "#{user.id}"}},
		{name: "uid and login", response: map[string]string{"uid": "#{user.id}", "login": "#{user.login}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir, srv, _, id := newDirectoryIdentity(t)
			cfg, _ := json.Marshal(cidp.AppConfig{
				Endpoint:       srv.URL,
				RequestParams:  map[string]string{"token": "#{login}"},
				ResponseParams: tt.response,
			})
			app, err := id.CreateApplication(ctx, "cidp", identity.AppSettings{PasswordProvider: "cidp", Providers: map[string]json.RawMessage{"cidp": cfg}})
			if err != nil {
				t.Fatal(err)
			}
			const n = 8
			for i := range n {
				dir.set("t"+strconv.Itoa(i), map[string]any{"id": "same-uid", "login": "racer"})
			}
			ids := make(chan int64, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s, err := id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey,
						Credentials: &identity.Credentials{Login: "t" + strconv.Itoa(i), Password: "x"}})
					if err != nil {
						t.Errorf("login %d: %v", i, err)
						return
					}
					ids <- s.UserID
				}()
			}
			wg.Wait()
			close(ids)
			seen := map[int64]bool{}
			for uid := range ids {
				seen[uid] = true
			}
			if len(seen) != 1 {
				t.Errorf("concurrent first logins made users %v, want one", seen)
			}
		})
	}
}

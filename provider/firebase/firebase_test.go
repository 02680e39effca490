package firebase

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
)

// newProviders starts a key server publishing k1 and returns the phone and email providers
// of cfg on it (quiet unless cfg has a Logger).
func newProviders(t testing.TB, cfg Config) (phone, email *Provider, ks *testutil.KeyServer) {
	t.Helper()
	ks = testutil.NewKeyServer(t, "k1")
	cfg.KeySetURL = ks.URL()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	phone, email, err := newPair(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return phone, email, ks
}

func TestAuthenticate(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	phone, email, ks := newProviders(t, Config{Now: clk.Now})
	app := testApp(t, false)
	strict := testApp(t, true)
	bare := &identity.Application{ID: 8}

	// with returns valid claims for proj-a changed by f.
	with := func(f func(m map[string]any)) map[string]any {
		m := claimsFor("proj-a", now)
		if f != nil {
			f(m)
		}
		return m
	}
	valid := sign(t, "k1", "k1", with(nil))
	tampered := func() string {
		parts := strings.Split(valid, ".")
		other := strings.Split(sign(t, "k1", "k1", with(func(m map[string]any) { m["sub"] = "victim" })), ".")
		return parts[0] + "." + other[1] + "." + parts[2]
	}()

	tests := []struct {
		name     string
		provider string
		app      *identity.Application
		project  string
		token    string
		wantErr  error
		// detail must occur in the rejection reason (when wantErr is errRejected).
		detail    string
		wantLogin string
		wantPhone string
		wantEmail string
	}{
		{name: "valid phone", provider: PhoneProvider, token: valid, wantLogin: "380505701234", wantPhone: "380505701234"},
		{name: "valid email", provider: EmailProvider, token: valid, wantEmail: "Ann@Example.com"},
		{name: "second allowed project", provider: PhoneProvider, project: "proj-b",
			token: sign(t, "k1", "k1", claimsFor("proj-b", now)), wantLogin: "380505701234", wantPhone: "380505701234"},
		{name: "float times", provider: PhoneProvider, wantLogin: "380505701234", wantPhone: "380505701234",
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["iat"] = float64(now.Unix()) - 0.5 }))},
		{name: "expired", provider: PhoneProvider, wantErr: errExpired,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["exp"] = now.Add(-2 * time.Minute).Unix() }))},
		{name: "expired within leeway", provider: PhoneProvider, wantLogin: "380505701234", wantPhone: "380505701234",
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["exp"] = now.Add(-30 * time.Second).Unix() }))},
		{name: "future iat", provider: PhoneProvider, wantErr: errIssuedInFuture,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["iat"] = now.Add(2 * time.Minute).Unix() }))},
		{name: "iat within leeway", provider: PhoneProvider, wantLogin: "380505701234", wantPhone: "380505701234",
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["iat"] = now.Add(30 * time.Second).Unix() }))},
		{name: "future auth_time", provider: EmailProvider, wantErr: errAuthTimeInFuture,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["auth_time"] = now.Add(2 * time.Minute).Unix() }))},
		{name: "future nbf", provider: EmailProvider, wantErr: errNotYetValid,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["nbf"] = now.Add(2 * time.Minute).Unix() }))},
		{name: "no auth_time", provider: PhoneProvider, wantErr: errMissingTime,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { delete(m, "auth_time") }))},
		{name: "no iat", provider: PhoneProvider, wantErr: errMissingTime,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { delete(m, "iat") }))},
		{name: "no exp", provider: PhoneProvider, wantErr: errMissingTime,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { delete(m, "exp") }))},
		{name: "time not a number", provider: PhoneProvider, wantErr: errRejected, detail: "unmarshal",
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["exp"] = "tomorrow" }))},
		{name: "wrong aud", provider: PhoneProvider, wantErr: errRejected, detail: "audience",
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["aud"] = "proj-b" }))},
		{name: "extra aud", provider: PhoneProvider, wantErr: errAudience,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["aud"] = []string{"proj-a", "proj-x"} }))},
		{name: "wrong iss", provider: PhoneProvider, wantErr: errRejected, detail: "different provider",
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["iss"] = issuerPrefix + "proj-b" }))},
		{name: "google accounts iss", provider: EmailProvider, wantErr: errRejected, detail: "different provider",
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["iss"] = "https://accounts.google.com" }))},
		{name: "project not allowed", provider: PhoneProvider, project: "proj-c", wantErr: errProjectNotAllowed,
			token: sign(t, "k1", "k1", claimsFor("proj-c", now))},
		{name: "project of token differs from param", provider: PhoneProvider, project: "proj-b", wantErr: errRejected,
			detail: "different provider", token: valid},
		{name: "provider not enabled", provider: PhoneProvider, app: bare, wantErr: errNotEnabled, token: valid},
		{name: "alg none", provider: PhoneProvider, wantErr: errUnsigned, token: unsigned(t, with(nil))},
		{name: "HS256 with the public key", provider: PhoneProvider, wantErr: errMalformed,
			token: hs256WithPublicKey(t, "k1", with(nil))},
		{name: "signed by a key not published under its kid", provider: PhoneProvider, wantErr: errRejected,
			detail: "signature", token: sign(t, "rogue", "k1", with(nil))},
		{name: "unknown kid", provider: PhoneProvider, wantErr: errUnknownKey, token: sign(t, "rogue", "rogue", with(nil))},
		{name: "no kid", provider: PhoneProvider, wantErr: errNoKeyID, token: sign(t, "k1", "", with(nil))},
		{name: "tampered payload", provider: PhoneProvider, wantErr: errRejected, detail: "signature", token: tampered},
		{name: "oversized", provider: PhoneProvider, wantErr: errTooLarge,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["pad"] = strings.Repeat("x", 8192) }))},
		{name: "garbage", provider: PhoneProvider, wantErr: errMalformed, token: "not-a-jwt"},
		{name: "JSON serialization", provider: PhoneProvider, wantErr: errMalformed, token: `{"payload":"e30","signatures":[]}`},
		{name: "sub 128", provider: PhoneProvider, wantLogin: "380505701234", wantPhone: "380505701234",
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["sub"] = strings.Repeat("é", 128) }))},
		{name: "sub too long", provider: PhoneProvider, wantErr: errSubject,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["sub"] = strings.Repeat("u", 129) }))},
		{name: "sub empty", provider: PhoneProvider, wantErr: errSubject,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["sub"] = "" }))},
		{name: "sub with control character", provider: PhoneProvider, wantErr: errSubject,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["sub"] = "uid\x00" }))},
		{name: "phone missing", provider: PhoneProvider, wantErr: errNoPhone,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { delete(m, "phone_number") }))},
		{name: "phone not E.164", provider: PhoneProvider, wantErr: errNoPhone,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["phone_number"] = "380505701234" }))},
		{name: "email missing", provider: EmailProvider, wantErr: errNoEmail,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { delete(m, "email") }))},
		{name: "email unverified, not required", provider: EmailProvider, wantEmail: "Ann@Example.com",
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["email_verified"] = false }))},
		{name: "email unverified, required", provider: EmailProvider, app: strict, wantErr: errEmailNotVerified,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["email_verified"] = false }))},
		{name: "email verified claim absent, required", provider: EmailProvider, app: strict, wantErr: errEmailNotVerified,
			token: sign(t, "k1", "k1", with(func(m map[string]any) { delete(m, "email_verified") }))},
		{name: "email verified, required", provider: EmailProvider, app: strict, token: valid, wantEmail: "Ann@Example.com"},
		{name: "phone token ignores RequireEmailVerified", provider: PhoneProvider, app: strict, wantLogin: "380505701234", wantPhone: "380505701234",
			token: sign(t, "k1", "k1", with(func(m map[string]any) { m["email_verified"] = false }))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.app
			if a == nil {
				a = app
			}
			project := tt.project
			if project == "" {
				project = "proj-a"
			}
			c, err := authenticate(context.Background(), phone, email, a, tt.provider, project, tt.token)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, identity.ErrInvalidCredentials) {
					t.Fatalf("err = %v (%v), want %v wrapping ErrInvalidCredentials", err, reason(err), tt.wantErr)
				}
				if err.Error() != "firebase: invalid token" {
					t.Errorf("client-visible message %q leaks detail", err.Error())
				}
				if tt.detail != "" && !strings.Contains(reason(err), tt.detail) {
					t.Errorf("reason %q does not mention %q", reason(err), tt.detail)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v (%v)", err, reason(err))
			}
			if c.Subject == "" || c.UserID != 0 || c.NewUser || c.Guest || c.RefreshProfile {
				t.Errorf("claims = %+v, want only Subject and Profile", c)
			}
			if got := deref(c.Profile.Login); got != tt.wantLogin {
				t.Errorf("login = %q, want %q", got, tt.wantLogin)
			}
			if got := deref(c.Profile.Phone); got != tt.wantPhone {
				t.Errorf("phone = %q, want %q", got, tt.wantPhone)
			}
			if got := deref(c.Profile.Email); got != tt.wantEmail {
				t.Errorf("email = %q, want %q", got, tt.wantEmail)
			}
		})
	}
	if n := ks.Fetches(); n != 2 {
		t.Errorf("key set fetched %d times, want 2, once per provider (forged tokens must not trigger fetches within MinRefreshInterval)", n)
	}
}

func TestAuthenticateSubject(t *testing.T) {
	clk := newClock()
	phone, _, _ := newProviders(t, Config{Now: clk.Now})
	m := claimsFor("proj-a", clk.Now())
	m["sub"] = "Ab3dEf9hIj"
	c, err := authenticate(context.Background(), phone, nil, testApp(t, false), PhoneProvider, "proj-a", sign(t, "k1", "k1", m))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "Ab3dEf9hIj" {
		t.Errorf("Subject = %q, want the uid", c.Subject)
	}
}

func TestOversizedTokenIsNotParsed(t *testing.T) {
	phone, _, ks := newProviders(t, Config{MaxTokenSize: 100})
	_, err := authenticate(context.Background(), phone, nil, testApp(t, false), PhoneProvider, "proj-a", strings.Repeat("a", 101))
	if !errors.Is(err, errTooLarge) || !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("err = %v, want errTooLarge", err)
	}
	if n := ks.Fetches(); n != 0 {
		t.Errorf("key set fetched %d times, want 0", n)
	}
}

func TestMissingParams(t *testing.T) {
	phone, email, err := newPair(Config{KeySetURL: "http://127.0.0.1:1/unused", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	app := testApp(t, false)
	const (
		phoneToken, phoneProject = "firebase_phone[access_token]", "firebase_phone[project_id]"
		emailToken, emailProject = "firebase_email[access_token]", "firebase_email[project_id]"
	)
	tests := []struct {
		provider, project, token string
		want                     []string
	}{
		{PhoneProvider, "", "", []string{phoneToken, phoneProject}},
		{PhoneProvider, "proj-a", "", []string{phoneToken}},
		{PhoneProvider, "", "tok", []string{phoneProject}},
		{PhoneProvider, "  ", " \t", []string{phoneToken, phoneProject}},
		{EmailProvider, "", "", []string{emailToken, emailProject}},
		{EmailProvider, "", "tok", []string{emailProject}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.want, "+"), func(t *testing.T) {
			_, err := authenticate(context.Background(), phone, email, app, tt.provider, tt.project, tt.token)
			if !errors.Is(err, identity.ErrInvalidInput) {
				t.Fatalf("err = %v, want ErrInvalidInput", err)
			}
			var e *identity.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %#v, want an *identity.Error", err)
			}
			var got []string
			for _, f := range e.Fields {
				if f.Code != "missing" {
					t.Fatalf("field %q code %q, want missing", f.Field, f.Code)
				}
				got = append(got, f.Field)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("missing %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEmulator(t *testing.T) {
	clk := newClock()
	app := testApp(t, false)
	tok := unsigned(t, claimsFor("proj-a", clk.Now()))

	var logs testutil.LogBuffer
	phone, _, err := newPair(Config{KeySetURL: "http://127.0.0.1:1/unused", Now: clk.Now, InsecureEmulator: true,
		Logger: textLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "InsecureEmulator") {
		t.Errorf("New with InsecureEmulator logged %q, want a warning", logs.String())
	}
	c, err := authenticate(context.Background(), phone, nil, app, PhoneProvider, "proj-a", tok)
	if err != nil {
		t.Fatalf("emulator token: %v (%v)", err, reason(err))
	}
	if c.Subject != "uid-123" || deref(c.Profile.Login) != "380505701234" {
		t.Errorf("claims = %+v", c)
	}

	// The emulator switch does not relax any claim check.
	m := claimsFor("proj-a", clk.Now())
	m["aud"] = "proj-b"
	if _, err := authenticate(context.Background(), phone, nil, app, PhoneProvider, "proj-a", unsigned(t, m)); !errors.Is(err, errRejected) {
		t.Errorf("emulator token with wrong aud: err = %v, want errRejected", err)
	}
	m = claimsFor("proj-a", clk.Now())
	m["exp"] = clk.Now().Add(-time.Hour).Unix()
	if _, err := authenticate(context.Background(), phone, nil, app, PhoneProvider, "proj-a", unsigned(t, m)); !errors.Is(err, errExpired) {
		t.Errorf("expired emulator token: err = %v, want errExpired", err)
	}

	// Signed tokens are still verified against the key set (unreachable here): an RS256
	// token is never accepted unverified.
	if _, err := authenticate(context.Background(), phone, nil, app, PhoneProvider, "proj-a",
		sign(t, "rogue", "rogue", claimsFor("proj-a", clk.Now()))); err == nil {
		t.Error("RS256 token with an unverifiable signature accepted in emulator mode")
	}

	logs.Reset()
	if _, _, err := newPair(Config{Logger: textLogger(&logs)}); err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 0 {
		t.Errorf("New without InsecureEmulator logged %q", logs.String())
	}
}

func TestRejectionLogsNoToken(t *testing.T) {
	clk := newClock()
	var logs testutil.LogBuffer
	phone, _, _ := newProviders(t, Config{Now: clk.Now, Logger: debugLogger(&logs)})
	m := claimsFor("proj-a", clk.Now())
	m["exp"] = clk.Now().Add(-time.Hour).Unix()
	tok := sign(t, "k1", "k1", m)
	if _, err := authenticate(context.Background(), phone, nil, testApp(t, false), PhoneProvider, "proj-a", tok); !errors.Is(err, errExpired) {
		t.Fatalf("err = %v, want errExpired", err)
	}
	out := logs.String()
	if !strings.Contains(out, "token expired") || !strings.Contains(out, "app_id=7") {
		t.Errorf("debug log %q lacks the reason or the application", out)
	}
	for _, part := range strings.Split(tok, ".") {
		if strings.Contains(out, part) {
			t.Errorf("debug log contains part of the token: %q", out)
		}
	}
}

func TestBadAppSettings(t *testing.T) {
	phone, _, err := newPair(Config{KeySetURL: "http://127.0.0.1:1/unused", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	app := &identity.Application{ID: 9}
	app.Settings.Providers = map[string]json.RawMessage{PhoneProvider: json.RawMessage(`{"project_ids":"proj-a"}`)}
	_, err = authenticate(context.Background(), phone, nil, app, PhoneProvider, "proj-a", "x.y.z")
	if err == nil || errors.Is(err, identity.ErrInvalidCredentials) || errors.Is(err, identity.ErrInvalidInput) {
		t.Fatalf("err = %v, want an internal error (operator mistake, not the client's)", err)
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"zero", Config{}, false},
		{"file URL", Config{KeySetURL: "file:///etc/passwd"}, true},
		{"negative size", Config{MaxTokenSize: -1}, true},
		{"negative refresh", Config{MinRefreshInterval: -time.Second}, true},
		{"negative leeway means none", Config{Leeway: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Logger = quietLogger()
			phone, email, err := newPair(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && (phone.Name() != PhoneProvider || email.Name() != EmailProvider) {
				t.Errorf("names = %q, %q", phone.Name(), email.Name())
			}
		})
	}
}

func TestNoLeeway(t *testing.T) {
	clk := newClock()
	phone, _, _ := newProviders(t, Config{Now: clk.Now, Leeway: -1})
	m := claimsFor("proj-a", clk.Now())
	m["iat"] = clk.Now().Add(time.Second).Unix()
	if _, err := authenticate(context.Background(), phone, nil, testApp(t, false), PhoneProvider, "proj-a", sign(t, "k1", "k1", m)); !errors.Is(err, errIssuedInFuture) {
		t.Errorf("err = %v, want errIssuedInFuture", err)
	}
	m = claimsFor("proj-a", clk.Now())
	m["exp"] = clk.Now().Unix()
	if _, err := authenticate(context.Background(), phone, nil, testApp(t, false), PhoneProvider, "proj-a", sign(t, "k1", "k1", m)); !errors.Is(err, errExpired) {
		t.Errorf("exp == now: err = %v, want errExpired", err)
	}
}

func TestIdentityClockIsTheDefault(t *testing.T) {
	phone, _, _ := newProviders(t, Config{})
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	req := authReq(testApp(t, false), PhoneProvider, "proj-a", sign(t, "k1", "k1", claimsFor("proj-a", past)))
	req.Now = past
	if _, err := phone.Authenticate(context.Background(), req); err != nil {
		t.Fatalf("token valid at AuthRequest.Now rejected: %v (%v)", err, reason(err))
	}
	req.Now = past.Add(2 * time.Hour)
	if _, err := phone.Authenticate(context.Background(), req); !errors.Is(err, errExpired) {
		t.Fatalf("err = %v, want errExpired at AuthRequest.Now + 2h", err)
	}
}

func TestEnable(t *testing.T) {
	var s identity.AppSettings
	for _, name := range []string{"", "firebase", "Firebase_phone"} {
		if _, err := New(Config{Name: name}); err == nil {
			t.Errorf("New accepted the provider name %q", name)
		}
	}
	for _, bad := range [][]string{nil, {""}, {"a/b"}, {"a b"}, {strings.Repeat("p", 129)}} {
		if err := enable(&s, PhoneProvider, AppConfig{ProjectIDs: bad}); err == nil {
			t.Errorf("Enable accepted project ids %q", bad)
		}
	}
	orig := map[string]json.RawMessage{"other": json.RawMessage(`{}`)}
	s.Providers = map[string]json.RawMessage{}
	for k, v := range orig {
		s.Providers[k] = v
	}
	shared := s.Providers
	if err := enable(&s, EmailProvider, AppConfig{ProjectIDs: []string{"p"}, RequireEmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	if len(shared) != 1 {
		t.Error("Enable modified the caller's Providers map in place")
	}
	if string(s.Providers["other"]) != "{}" {
		t.Error("Enable dropped another provider's settings")
	}
	c, ok, err := appConfig(&identity.Application{Settings: s}, EmailProvider)
	if err != nil || !ok || len(c.ProjectIDs) != 1 || c.ProjectIDs[0] != "p" || !c.RequireEmailVerified {
		t.Errorf("appConfig = %+v, %v, %v", c, ok, err)
	}
}

func reason(err error) string {
	var r *rejectError
	if errors.As(err, &r) {
		return r.reason.Error()
	}
	return ""
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// users is a hand-written identity.UserFinder: logins it holds are taken; err, when set,
// is returned for every lookup.
type users struct {
	logins map[string]bool
	err    error
}

func (u users) UserByLogin(_ context.Context, login string) (*identity.User, error) {
	if u.err != nil {
		return nil, u.err
	}
	if u.logins[login] {
		return &identity.User{ID: 1, Login: login}, nil
	}
	return nil, identity.ErrUserNotFound
}

func (u users) UserByEmail(context.Context, string) (*identity.User, error) {
	return nil, identity.ErrUserNotFound
}

func TestPhoneLoginOnlyWhenFree(t *testing.T) {
	clk := newClock()
	phone, _, _ := newProviders(t, Config{Now: clk.Now})
	app := testApp(t, false)
	tok := sign(t, "k1", "k1", claimsFor("proj-a", clk.Now()))
	storeDown := errors.New("store: connection refused")
	tests := []struct {
		name      string
		users     identity.UserFinder
		wantErr   error
		wantLogin bool
	}{
		{name: "login free", users: users{}, wantLogin: true},
		{name: "login taken", users: users{logins: map[string]bool{"380505701234": true}}, wantLogin: false},
		{name: "other login taken", users: users{logins: map[string]bool{"380505701235": true}}, wantLogin: true},
		{name: "no finder", users: nil, wantLogin: true},
		{name: "lookup fails", users: users{err: storeDown}, wantErr: storeDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := authReq(app, PhoneProvider, "proj-a", tok)
			req.Users = tt.users
			c, err := phone.Authenticate(context.Background(), req)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if errors.Is(err, identity.ErrInvalidCredentials) {
					t.Errorf("a failed lookup is reported as invalid credentials: %v", err)
				}
				return
			}
			if c.Profile.Phone == nil || *c.Profile.Phone != "380505701234" {
				t.Errorf("phone %v, want 380505701234", c.Profile.Phone)
			}
			if got := c.Profile.Login != nil; got != tt.wantLogin {
				t.Errorf("login set = %v, want %v", got, tt.wantLogin)
			}
			if c.Profile.Login != nil && *c.Profile.Login != "380505701234" {
				t.Errorf("login %q", *c.Profile.Login)
			}
		})
	}
}

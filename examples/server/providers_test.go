package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/provider/cidp"
	"github.com/identitykit/identity/provider/facebook"
	"github.com/identitykit/identity/provider/firebase"
	"github.com/identitykit/identity/provider/oidc"
	"github.com/identitykit/identity/provider/twitter"
	"github.com/identitykit/identity/store/gormstore"
)

// providerConfig decodes s.Providers[name] into dst; it reports whether it was set.
func providerConfig(t *testing.T, s identity.AppSettings, name string, dst any) bool {
	t.Helper()
	raw, ok := s.Providers[name]
	if !ok {
		return false
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return true
}

func TestProviderFlagsSettings(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := parseConfig([]string{
		"-firebase-project-ids", "proj-a, proj-b",
		"-firebase-require-email-verified",
		"-cidp-endpoint", "https://idp.example.com/verify",
		"-cidp-method", "POST",
		"-cidp-request-params", `{"token":"#{login}"}`,
		"-cidp-response-params", `{"uid":"#{user.id}","email":"#{user.email}"}`,
		"-cidp-request-format", "json",
		"-twitter-consumer-secret", "tw-S3CR3T",
	}, env(map[string]string{
		"IDENTITY_CIDP_REQUEST_HEADERS": `{"X-Api-Key":"k-S3CR3T"}`,
		"IDENTITY_OIDC_ISSUER":          "https://tenant.example.com/",
		"IDENTITY_OIDC_CLIENT_IDS":      "web,ios",
		"IDENTITY_OIDC_ALGORITHMS":      "RS256,ES256",
		"IDENTITY_OIDC_JWKS_URL":        "https://tenant.example.com/jwks",
		"IDENTITY_OIDC_CLAIMS":          `{"login":"#{nickname}"}`,
		"IDENTITY_FACEBOOK_APP_ID":      "1234567890",
		"IDENTITY_FACEBOOK_APP_SECRET":  "fb-S3CR3T",
		"IDENTITY_TWITTER_CONSUMER_KEY": "tw-key",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// Settings not governed by the flags are kept; the governed ones are replaced.
	before := identity.AppSettings{PasswordProvider: "", Providers: map[string]json.RawMessage{
		"custom":               json.RawMessage(`{"x":1}`),
		firebase.PhoneProvider: json.RawMessage(`{"project_ids":["old"]}`),
	}}
	s := c.applySettings(before)

	var phone, email firebase.AppConfig
	if !providerConfig(t, s, firebase.PhoneProvider, &phone) || !providerConfig(t, s, firebase.EmailProvider, &email) {
		t.Fatalf("Firebase not enabled: %v", s.Providers)
	}
	if want := (firebase.AppConfig{ProjectIDs: []string{"proj-a", "proj-b"}}); !reflect.DeepEqual(phone, want) {
		t.Errorf("firebase_phone = %+v, want %+v", phone, want)
	}
	if want := (firebase.AppConfig{ProjectIDs: []string{"proj-a", "proj-b"}, RequireEmailVerified: true}); !reflect.DeepEqual(email, want) {
		t.Errorf("firebase_email = %+v, want %+v", email, want)
	}
	var cc cidp.AppConfig
	if !providerConfig(t, s, "cidp", &cc) {
		t.Fatal("CIdP not enabled")
	}
	wantCIdP := cidp.AppConfig{
		Endpoint: "https://idp.example.com/verify", Method: "POST", RequestFormat: "json",
		RequestHeaders: map[string]string{"X-Api-Key": "k-S3CR3T"},
		RequestParams:  map[string]string{"token": "#{login}"},
		ResponseParams: map[string]string{"uid": "#{user.id}", "email": "#{user.email}"},
	}
	if !reflect.DeepEqual(cc, wantCIdP) {
		t.Errorf("cidp = %+v\nwant %+v", cc, wantCIdP)
	}
	if s.PasswordProvider != "cidp" {
		t.Errorf("PasswordProvider = %q, want cidp", s.PasswordProvider)
	}
	var oc oidc.AppConfig
	if !providerConfig(t, s, "oidc", &oc) {
		t.Fatal("OIDC not enabled")
	}
	wantOIDC := oidc.AppConfig{Issuer: "https://tenant.example.com/", ClientIDs: []string{"web", "ios"},
		Algorithms: []string{"RS256", "ES256"}, JWKSURL: "https://tenant.example.com/jwks", Claims: map[string]string{"login": "#{nickname}"}}
	if !reflect.DeepEqual(oc, wantOIDC) {
		t.Errorf("oidc = %+v\nwant %+v", oc, wantOIDC)
	}
	var fb facebook.AppConfig
	var tw twitter.AppConfig
	if !providerConfig(t, s, facebook.Name, &fb) || fb != (facebook.AppConfig{AppID: "1234567890", AppSecret: "fb-S3CR3T"}) {
		t.Errorf("facebook = %+v", fb)
	}
	if !providerConfig(t, s, twitter.Name, &tw) || tw != (twitter.AppConfig{ConsumerKey: "tw-key", ConsumerSecret: "tw-S3CR3T"}) {
		t.Errorf("twitter = %+v", tw)
	}
	if string(s.Providers["custom"]) != `{"x":1}` {
		t.Errorf("a provider the flags do not govern was changed: %v", s.Providers)
	}
	if len(before.Providers) != 2 || string(before.Providers[firebase.PhoneProvider]) != `{"project_ids":["old"]}` {
		t.Errorf("applySettings modified its argument's map: %v", before.Providers)
	}

	// Without the flags, a later start removes what an earlier one enabled and routes
	// login/password back to the password provider.
	plain, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	off := plain.applySettings(s)
	if off.PasswordProvider != "" || len(off.Providers) != 1 || off.Providers["custom"] == nil {
		t.Errorf("after disabling: PasswordProvider %q, providers %v", off.PasswordProvider, off.Providers)
	}
	if sameFlagSettings(s, off) || !sameFlagSettings(off, plain.applySettings(off)) {
		t.Error("sameFlagSettings does not tell enabled from disabled providers")
	}

	// Only one Firebase sign-in.
	c, err = parseConfig([]string{"-firebase-project-ids", "p1", "-firebase-providers", "firebase_email"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.applySettings(identity.AppSettings{}); s.Providers[firebase.PhoneProvider] != nil || s.Providers[firebase.EmailProvider] == nil || s.PasswordProvider != "" {
		t.Errorf("firebase_email only: %+v", s)
	}
}

func TestProviderFlagsErrors(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"bad project id", []string{"-firebase-project-ids", "a/b"}, nil},
		{"unknown Firebase provider", []string{"-firebase-project-ids", "p", "-firebase-providers", "firebase_sms"}, nil},
		{"no Firebase provider", []string{"-firebase-project-ids", "p", "-firebase-providers", " , "}, nil},
		{"emulator not a boolean", nil, map[string]string{"IDENTITY_FIREBASE_INSECURE_EMULATOR": "perhaps"}},
		{"CIdP without uid mapping", []string{"-cidp-endpoint", "https://idp.example.com", "-cidp-response-params", `{"login":"#{login}"}`}, nil},
		{"CIdP params not JSON", []string{"-cidp-endpoint", "https://idp.example.com", "-cidp-request-params", `token=#{login}`}, nil},
		{"CIdP headers not JSON", []string{"-cidp-endpoint", "https://idp.example.com", "-cidp-response-params", `{"uid":"#{id}"}`},
			map[string]string{"IDENTITY_CIDP_REQUEST_HEADERS": `Authorization: k-S3CR3T`}},
		{"CIdP method", []string{"-cidp-endpoint", "https://idp.example.com", "-cidp-method", "PUT", "-cidp-response-params", `{"uid":"#{id}"}`}, nil},
		{"CIdP mapping without endpoint", []string{"-cidp-response-params", `{"uid":"#{id}"}`}, nil},
		{"CIdP timeout", []string{"-cidp-endpoint", "https://idp.example.com", "-cidp-response-params", `{"uid":"#{id}"}`, "-cidp-timeout", "0s"}, nil},
		{"OIDC without client id", []string{"-oidc-issuer", "https://issuer.example.com"}, nil},
		{"OIDC over plain http", []string{"-oidc-issuer", "http://issuer.example.com", "-oidc-client-ids", "a"}, nil},
		{"OIDC HS256", []string{"-oidc-issuer", "https://issuer.example.com", "-oidc-client-ids", "a", "-oidc-algorithms", "HS256"}, nil},
		{"OIDC settings without issuer", []string{"-oidc-client-ids", "a"}, nil},
		{"Facebook without secret", []string{"-facebook-app-id", "123"}, nil},
		{"Facebook secret without id", nil, map[string]string{"IDENTITY_FACEBOOK_APP_SECRET": "k-S3CR3T"}},
		{"Facebook app id not numeric", []string{"-facebook-app-id", "abc", "-facebook-app-secret", "k-S3CR3T"}, nil},
		{"Twitter without secret", []string{"-twitter-consumer-key", "k"}, nil},
		{"Twitter API URL", []string{"-twitter-consumer-key", "k", "-twitter-consumer-secret", "k-S3CR3T", "-twitter-api-url", "ftp://x"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, env(tt.env), io.Discard)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "k-S3CR3T") {
				t.Errorf("error quotes a header value: %v", err)
			}
		})
	}

	var usage bytes.Buffer
	_, err := parseConfig([]string{"--help"}, env(map[string]string{"IDENTITY_CIDP_REQUEST_HEADERS": `{"X-Api-Key":"k-S3CR3T"}`,
		"IDENTITY_FACEBOOK_APP_SECRET": "k-S3CR3T", "IDENTITY_TWITTER_CONSUMER_SECRET": "k-S3CR3T"}), &usage)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, v := range []string{"IDENTITY_FIREBASE_PROJECT_IDS", "IDENTITY_FIREBASE_PROVIDERS", "IDENTITY_FIREBASE_KEY_SET_URL",
		"IDENTITY_FIREBASE_INSECURE_EMULATOR", "IDENTITY_FIREBASE_REQUIRE_EMAIL_VERIFIED",
		"IDENTITY_CIDP_ENDPOINT", "IDENTITY_CIDP_METHOD", "IDENTITY_CIDP_REQUEST_HEADERS", "IDENTITY_CIDP_REQUEST_PARAMS",
		"IDENTITY_CIDP_RESPONSE_PARAMS", "IDENTITY_CIDP_REQUEST_FORMAT", "IDENTITY_CIDP_TIMEOUT",
		"IDENTITY_OIDC_ISSUER", "IDENTITY_OIDC_CLIENT_IDS", "IDENTITY_OIDC_ALGORITHMS", "IDENTITY_OIDC_JWKS_URL", "IDENTITY_OIDC_CLAIMS",
		"IDENTITY_FACEBOOK_APP_ID", "IDENTITY_FACEBOOK_APP_SECRET", "IDENTITY_FACEBOOK_GRAPH_URL",
		"IDENTITY_TWITTER_CONSUMER_KEY", "IDENTITY_TWITTER_CONSUMER_SECRET", "IDENTITY_TWITTER_API_URL"} {
		if !strings.Contains(usage.String(), v) {
			t.Errorf("--help does not mention %s", v)
		}
	}
	if strings.Contains(usage.String(), "k-S3CR3T") {
		t.Error("--help prints the CIdP request headers")
	}
}

// TestRunWithCIdP starts the server with a CIdP flag set and signs in through it; a restart
// without the flags keeps CIdP (the stored settings win), and removing it with "server apps
// set" turns it off on the running server.
func TestRunWithCIdP(t *testing.T) {
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != "good-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"user":{"id":42,"login":"simon"}}`)
	}))
	defer idp.Close()
	db := filepath.Join(t.TempDir(), "identity.db")
	addr, banner, stop := start(t, db, "-cidp-endpoint", idp.URL+"/verify",
		"-cidp-request-params", `{"token":"#{login}"}`, "-cidp-response-params", `{"uid":"#{user.id}","login":"#{user.login}"}`)
	m := keyRE.FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("banner:\n%s", banner)
	}
	post := func(login string) (int, string) {
		t.Helper()
		res, err := http.Post("http://"+addr+"/session.json", "application/json",
			strings.NewReader(`{"application_id":1,"auth_key":"`+m[1]+`","user":{"login":"`+login+`","password":"x"}}`))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := post("good-token"); code != 201 || !strings.Contains(body, `"login":"simon"`) {
		t.Fatalf("CIdP login: %d %s", code, body)
	}
	if code, body := post("bad-token"); code != 422 || !strings.Contains(body, "Unauthorized on remote side. Status: 401") {
		t.Fatalf("refused CIdP login: %d %s", code, body)
	}
	stop()

	addr, _, stop = start(t, db, "-recheck-interval", "1ms")
	defer stop()
	if code, body := post("good-token"); code != 201 {
		t.Fatalf("CIdP login after a restart without the flags: %d %s", code, body)
	}
	mustCLI(t, "apps", "set", "1", "providers.cidp=", "-db", db)
	st, err := gormstore.OpenSQLite(db, gormstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	app, err := st.Application(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if app.Settings.PasswordProvider != "" || app.Settings.Providers["cidp"] != nil {
		t.Fatalf("apps set providers.cidp= kept %+v", app.Settings)
	}
	// Login/password is the password provider again: the token is an unknown login whose
	// password "x" is too short to sign up with.
	eventually(t, "CIdP answers after it was turned off", func() bool {
		code, body := post("good-token")
		return code != 201 && !strings.Contains(body, "remote side")
	})
}

// TestFirebaseEmulatorWarning shows the startup warning of -firebase-insecure-emulator and
// that every external provider is registered (each application's settings enable its own).
func TestFirebaseEmulatorWarning(t *testing.T) {
	for _, emulator := range []bool{false, true} {
		args := []string{"-firebase-project-ids", "demo-project", "-firebase-providers", "firebase_phone"}
		if emulator {
			args = append(args, "-firebase-insecure-emulator")
		}
		c, err := parseConfig(args, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		ps, err := c.Providers.providers(slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range ps {
			names = append(names, p.Name())
		}
		if strings.Join(names, ",") != "firebase_phone,firebase_email,cidp,oidc,facebook,twitter" {
			t.Fatalf("providers %v, want all six", names)
		}
		warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "InsecureEmulator")
		if warned != emulator {
			t.Errorf("emulator %v: warning logged = %v:\n%s", emulator, warned, logs.String())
		}
	}
}

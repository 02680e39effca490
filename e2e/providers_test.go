package e2e

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/socialtest"
	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/provider/cidp"
	"github.com/identitykit/identity/provider/facebook"
	"github.com/identitykit/identity/provider/firebase"
	"github.com/identitykit/identity/provider/twitter"
)

// The Facebook app and the Twitter consumer that applications created with
// POST /apps?providers=facebook,twitter are configured with, and a Facebook app of someone
// else.
const (
	facebookAppID   = "7000100020003"
	facebookForeign = "7999999999999"
	twitterKey      = "e2e-consumer-key"
)

// firebaseProjectID is the Firebase project whose tokens applications created with
// POST /apps?providers=firebase accept.
const firebaseProjectID = "identity-e2e"

// external stands in for the identity services of tests/firebase.test.mjs and
// tests/cidp.test.mjs:
//
//   - a JSON Web Key Set server with one RSA key, in place of Google's securetoken key set,
//     and the control endpoint that mints Firebase ID tokens signed with that key;
//   - a Custom Identity Provider verify endpoint (GET /verify?token=...) answering
//     {"user":{...}} for tokens registered through the control server and 401 with a body
//     for any other;
//
// and holds the firebase_phone, firebase_email and cidp providers configured against them.
type external struct {
	key    *rsa.PrivateKey
	signer jose.Signer
	jwks   *testutil.KeyServer
	idp    *httptest.Server
	clock  *fakeClock

	phone, email *firebase.Provider
	cidp         *cidp.Provider

	// Stand-ins of the Graph API and of Twitter's API (internal/socialtest), their secrets and
	// the providers configured against them.
	graph                    *socialtest.Graph
	twitterAPI               *socialtest.Twitter
	facebookSecret, twSecret string
	facebook                 *facebook.Provider
	twitter                  *twitter.Provider

	mu    sync.Mutex
	users map[string]map[string]any // CIdP token → the user the identity service returns
}

func startExternal(t *testing.T, clock *fakeClock, logger *slog.Logger) *external {
	t.Helper()
	x := &external{key: testutil.RSAKey(t, "e2e-1"), clock: clock, users: map[string]map[string]any{}}
	var err error
	x.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: x.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "e2e-1"))
	if err != nil {
		t.Fatalf("e2e: signer: %v", err)
	}
	x.jwks = testutil.NewKeyServer(t, "e2e-1")
	x.jwks.SetCacheControl("public, max-age=3600")
	x.idp = httptest.NewServer(http.HandlerFunc(x.verify))
	t.Cleanup(x.idp.Close)

	for _, f := range []struct {
		p    **firebase.Provider
		name string
	}{{&x.phone, firebase.PhoneProvider}, {&x.email, firebase.EmailProvider}} {
		if *f.p, err = firebase.New(firebase.Config{Name: f.name, KeySetURL: x.jwks.URL(), Logger: logger}); err != nil {
			t.Fatalf("e2e: firebase.New: %v", err)
		}
	}
	if x.cidp, err = cidp.New(cidp.Config{Logger: logger}); err != nil {
		t.Fatalf("e2e: cidp.New: %v", err)
	}
	x.facebookSecret, x.twSecret = "fbsecret-"+randomHex(16), "twsecret-"+randomHex(16)
	x.graph = socialtest.NewGraph(t, facebookAppID, x.facebookSecret, clock.Now)
	x.twitterAPI = socialtest.NewTwitter(t, twitterKey, x.twSecret)
	if x.facebook, err = facebook.New(facebook.Config{GraphURL: x.graph.URL(), Timeout: time.Second, Logger: logger}); err != nil {
		t.Fatalf("e2e: facebook.New: %v", err)
	}
	if x.twitter, err = twitter.New(twitter.Config{APIURL: x.twitterAPI.URL(), Timeout: time.Second, Logger: logger}); err != nil {
		t.Fatalf("e2e: twitter.New: %v", err)
	}
	return x
}

// providers are the providers for identity.Config.Providers.
func (x *external) providers() []identity.Provider {
	return []identity.Provider{x.phone, x.email, x.cidp, x.facebook, x.twitter}
}

// verify is the Custom Identity Provider's verify endpoint.
func (x *external) verify(w http.ResponseWriter, r *http.Request) {
	x.mu.Lock()
	u, ok := x.users[r.URL.Query().Get("token")]
	x.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"Token invalid"}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"user": u})
}

// enable adds the named providers' configuration to s: "firebase" enables firebase_phone
// and firebase_email for firebaseProjectID; "cidp" enables the Custom Identity Provider
// (and so routes every login/password of the application to it).
func (x *external) enable(s *identity.AppSettings, names string) error {
	for _, name := range strings.Split(names, ",") {
		switch strings.TrimSpace(name) {
		case "":
		case "firebase":
			for _, p := range []*firebase.Provider{x.phone, x.email} {
				if err := p.Enable(s, firebase.AppConfig{ProjectIDs: []string{firebaseProjectID}}); err != nil {
					return err
				}
			}
		case "cidp":
			if err := x.cidp.Enable(s, cidp.AppConfig{
				Endpoint:      x.idp.URL + "/verify",
				RequestParams: map[string]string{"token": "#{login}"},
				ResponseParams: map[string]string{"uid": "#{user.id}", "login": "#{user.login}",
					"email": "#{user.email}", "full_name": "#{user.full_name}"},
			}); err != nil {
				return err
			}
		case "facebook":
			if err := x.facebook.Enable(s, facebook.AppConfig{AppID: facebookAppID, AppSecret: x.facebookSecret}); err != nil {
				return err
			}
		case "twitter":
			if err := x.twitter.Enable(s, twitter.AppConfig{ConsumerKey: twitterKey, ConsumerSecret: x.twSecret}); err != nil {
				return err
			}
		default:
			return &unknownProviderError{name}
		}
	}
	return nil
}

type unknownProviderError struct{ name string }

func (e *unknownProviderError) Error() string {
	return "e2e: providers: " + e.name + " is not firebase, cidp, facebook or twitter"
}

// control adds the provider endpoints to the control server next:
//
//	POST /apps?providers=firebase,cidp  next's POST /apps with those providers enabled
//	POST /firebase/token  mints a Firebase ID token; JSON body {"uid", "phone_number",
//	                      "email", "email_verified", "project_id" (default identity-e2e),
//	                      "expires_in" (seconds, default 3600; negative for an expired
//	                      token)}; {"token", "project_id"}
//	POST /cidp/users      registers a user at the identity service; JSON body {"id", "login",
//	                      "email", "full_name"}; {"token"}, the external token for it
//	POST /facebook/tokens issues a Facebook user access token known to the Graph API stand-in;
//	                      JSON body {"id", "name", "email", "foreign_app" (issued for another
//	                      app), "expires_in" (seconds on the server's clock, default 3600;
//	                      negative for an expired token), "revoked", "failure" ("server_error":
//	                      the stand-in answers 500, and one 503 of the API passes the 5xx
//	                      check)}; {"token"}
//	POST /twitter/tokens  issues a Twitter access token and secret known to the Twitter
//	                      stand-in; JSON body {"id_str", "name", "screen_name", "failure"};
//	                      {"token", "secret"}
//
// Every token handed out is a secret the log check looks for.
func (x *external) control(next http.Handler, rec *recorder) http.Handler {
	rec.addSecret(x.facebookSecret)
	rec.addSecret(x.twSecret)
	mux := http.NewServeMux()
	mux.Handle("/", next)
	mux.HandleFunc("POST /apps", func(w http.ResponseWriter, r *http.Request) {
		names := r.URL.Query().Get("providers")
		if names == "" {
			next.ServeHTTP(w, r)
			return
		}
		var settings identity.AppSettings
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil && len(bytes.TrimSpace(body)) > 0 {
			err = json.Unmarshal(body, &settings)
		}
		if err == nil {
			err = x.enable(&settings, names)
		}
		if err == nil {
			body, err = json.Marshal(settings)
		}
		if err != nil {
			http.Error(w, "settings: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
	mux.HandleFunc("POST /firebase/token", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			UID           string `json:"uid"`
			PhoneNumber   string `json:"phone_number"`
			Email         string `json:"email"`
			EmailVerified bool   `json:"email_verified"`
			ProjectID     string `json:"project_id"`
			ExpiresIn     int64  `json:"expires_in"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.UID == "" {
			http.Error(w, "want a JSON body with uid", http.StatusBadRequest)
			return
		}
		if req.ProjectID == "" {
			req.ProjectID = firebaseProjectID
		}
		if req.ExpiresIn == 0 {
			req.ExpiresIn = 3600
		}
		now := x.clock.Now()
		claims := map[string]any{
			"iss": "https://securetoken.google.com/" + req.ProjectID, "aud": req.ProjectID,
			"sub": req.UID, "user_id": req.UID,
			"iat": now.Add(-time.Minute).Unix(), "auth_time": now.Add(-time.Minute).Unix(),
			"exp": now.Add(time.Duration(req.ExpiresIn) * time.Second).Unix(),
		}
		provider := "password"
		if req.PhoneNumber != "" {
			claims["phone_number"], provider = req.PhoneNumber, "phone"
		}
		if req.Email != "" {
			claims["email"], claims["email_verified"] = req.Email, req.EmailVerified
		}
		claims["firebase"] = map[string]any{"identities": map[string]any{}, "sign_in_provider": provider}
		payload, _ := json.Marshal(claims)
		obj, err := x.signer.Sign(payload)
		var tok string
		if err == nil {
			tok, err = obj.CompactSerialize()
		}
		if err != nil {
			http.Error(w, "sign: "+err.Error(), http.StatusInternalServerError)
			return
		}
		rec.addSecret(tok)
		writeJSON(w, http.StatusOK, map[string]string{"token": tok, "project_id": req.ProjectID})
	})
	mux.HandleFunc("POST /facebook/tokens", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID         string `json:"id"`
			Name       string `json:"name"`
			Email      string `json:"email"`
			ForeignApp bool   `json:"foreign_app"`
			ExpiresIn  int64  `json:"expires_in"`
			Revoked    bool   `json:"revoked"`
			Failure    string `json:"failure"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.ID == "" {
			http.Error(w, "want a JSON body with id", http.StatusBadRequest)
			return
		}
		if req.ExpiresIn == 0 {
			req.ExpiresIn = 3600
		}
		ft := socialtest.FacebookToken{UserID: req.ID, Name: req.Name, Email: req.Email, Revoked: req.Revoked,
			ExpiresAt: x.clock.Now().Add(time.Duration(req.ExpiresIn) * time.Second)}
		if req.ForeignApp {
			ft.AppID = facebookForeign
		}
		if req.Failure == "server_error" {
			ft.Failure = socialtest.ServerError
			rec.expect503()
		}
		tok := "EAA" + randomHex(32)
		x.graph.Add(tok, ft)
		rec.addSecret(tok)
		writeJSON(w, http.StatusCreated, map[string]string{"token": tok})
	})
	mux.HandleFunc("POST /twitter/tokens", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			IDStr      string `json:"id_str"`
			Name       string `json:"name"`
			ScreenName string `json:"screen_name"`
			Failure    string `json:"failure"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.IDStr == "" {
			http.Error(w, "want a JSON body with id_str", http.StatusBadRequest)
			return
		}
		f := socialtest.OK
		if req.Failure == "server_error" {
			f = socialtest.ServerError
			rec.expect503()
		}
		tok, secret := req.IDStr+"-"+randomHex(20), randomHex(24)
		x.twitterAPI.Add(tok, secret, socialtest.TwitterUser{IDStr: req.IDStr, Name: req.Name, ScreenName: req.ScreenName}, f)
		rec.addSecret(tok)
		rec.addSecret(secret)
		writeJSON(w, http.StatusCreated, map[string]string{"token": tok, "secret": secret})
	})
	mux.HandleFunc("POST /cidp/users", func(w http.ResponseWriter, r *http.Request) {
		var u map[string]any
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&u); err != nil || u["id"] == nil {
			http.Error(w, "want a JSON body with id", http.StatusBadRequest)
			return
		}
		tok := "cidp-" + randomHex(24)
		x.mu.Lock()
		x.users[tok] = u
		x.mu.Unlock()
		rec.addSecret(tok)
		writeJSON(w, http.StatusCreated, map[string]string{"token": tok})
	})
	return mux
}

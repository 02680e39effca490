// Package socialtest runs local stand-ins of the two upstream APIs the social sign-in
// providers call, for tests: the Graph API's debug_token and /me endpoints (provider/facebook)
// and Twitter's account/verify_credentials (provider/twitter). They answer as the real APIs
// document, including their refusals, and can be told to fail per token: a server error, a
// stalled answer, an oversized body.
package socialtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/identitykit/identity/internal/oauth1"
)

// Failure makes a stand-in misbehave when it sees a token.
type Failure int

// Failures.
const (
	// OK answers normally.
	OK Failure = iota
	// ServerError answers 500 with the API's error body.
	ServerError
	// Stall answers nothing until the client gives up (or the server closes).
	Stall
	// Oversized answers 200 with a body of OversizedBytes bytes.
	Oversized
)

// OversizedBytes is the size of an Oversized answer.
const OversizedBytes = 64 << 10

// GraphVersion is the version path the Graph stand-in serves under.
const GraphVersion = "/v21.0"

// FacebookToken describes a user access token the Graph stand-in knows.
type FacebookToken struct {
	// UserID, Name and Email are what /me returns (Email omitted when "").
	UserID, Name, Email string
	// AppID is the app the token was issued for; "" means the stand-in's app.
	AppID string
	// ExpiresAt is the token's expiry; zero means it never expires.
	ExpiresAt time.Time
	// Revoked makes debug_token report it invalid (the user logged out or removed the app).
	Revoked bool
	// ReportValid makes debug_token say is_valid true even when the token is expired.
	ReportValid bool
	// MeID, when set, is the id /me returns instead of UserID.
	MeID string
	// Failure makes both endpoints misbehave for this token.
	Failure Failure
}

// Graph is the Graph API stand-in for one Facebook app.
type Graph struct {
	// AppID and AppSecret are the app's credentials: debug_token needs the app access token
	// "AppID|AppSecret", /me the appsecret_proof made with AppSecret.
	AppID, AppSecret string
	srv              *httptest.Server
	now              func() time.Time
	mu               sync.Mutex
	tokens           map[string]FacebookToken
}

// NewGraph starts a Graph stand-in for the app (appID, appSecret), closed when t ends. now is
// its clock (nil: time.Now).
func NewGraph(t testing.TB, appID, appSecret string, now func() time.Time) *Graph {
	if now == nil {
		now = time.Now
	}
	g := &Graph{AppID: appID, AppSecret: appSecret, now: now, tokens: map[string]FacebookToken{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+GraphVersion+"/debug_token", g.debugToken)
	mux.HandleFunc("GET "+GraphVersion+"/me", g.me)
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

// URL is the versioned base URL, for facebook.Config.GraphURL.
func (g *Graph) URL() string { return g.srv.URL + GraphVersion }

// Add makes token known.
func (g *Graph) Add(token string, ft FacebookToken) {
	if ft.AppID == "" {
		ft.AppID = g.AppID
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tokens[token] = ft
}

func (g *Graph) token(s string) (FacebookToken, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ft, ok := g.tokens[s]
	return ft, ok
}

func (g *Graph) expired(ft FacebookToken) bool {
	return !ft.ExpiresAt.IsZero() && !ft.ExpiresAt.After(g.now())
}

func graphError(w http.ResponseWriter, status int, typ string, code int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": code, "fbtrace_id": "AbCdEf"}})
}

func (g *Graph) debugToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("access_token") != g.AppID+"|"+g.AppSecret {
		graphError(w, http.StatusBadRequest, "OAuthException", 190, "Invalid OAuth access token signature.")
		return
	}
	ft, ok := g.token(q.Get("input_token"))
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
			"error":    map[string]any{"code": 190, "message": "Invalid OAuth access token."},
			"is_valid": false, "scopes": []string{},
		}})
		return
	}
	if failed(w, r, ft.Failure) {
		return
	}
	data := map[string]any{
		"app_id": ft.AppID, "type": "USER", "application": "Stand-in", "is_valid": true,
		"issued_at": g.now().Add(-time.Hour).Unix(), "scopes": []string{"public_profile", "email"},
		"user_id": ft.UserID, "expires_at": 0, "data_access_expires_at": g.now().Add(90 * 24 * time.Hour).Unix(),
	}
	if !ft.ExpiresAt.IsZero() {
		data["expires_at"] = ft.ExpiresAt.Unix()
	}
	switch {
	case ft.Revoked:
		data["is_valid"] = false
		data["error"] = map[string]any{"code": 190, "subcode": 460, "message": "The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons."}
	case g.expired(ft) && !ft.ReportValid:
		data["is_valid"] = false
		data["error"] = map[string]any{"code": 190, "subcode": 463, "message": "Session has expired."}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func (g *Graph) me(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tok := q.Get("access_token")
	ft, ok := g.token(tok)
	if !ok || ft.Revoked || g.expired(ft) {
		graphError(w, http.StatusBadRequest, "OAuthException", 190, "Error validating access token: the token is invalid.")
		return
	}
	if failed(w, r, ft.Failure) {
		return
	}
	m := hmac.New(sha256.New, []byte(g.AppSecret))
	m.Write([]byte(tok))
	if !hmac.Equal([]byte(q.Get("appsecret_proof")), []byte(hex.EncodeToString(m.Sum(nil)))) {
		graphError(w, http.StatusBadRequest, "GraphMethodException", 100, "Invalid appsecret_proof provided in the API argument")
		return
	}
	out := map[string]any{}
	id := ft.UserID
	if ft.MeID != "" {
		id = ft.MeID
	}
	for _, f := range strings.Split(q.Get("fields"), ",") {
		switch f {
		case "id":
			out["id"] = id
		case "name":
			out["name"] = ft.Name
		case "email":
			if ft.Email != "" {
				out["email"] = ft.Email
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// TwitterUser is what verify_credentials returns for a token.
type TwitterUser struct {
	IDStr, Name, ScreenName string
}

type twitterToken struct {
	secret  string
	user    TwitterUser
	failure Failure
}

// Twitter is the stand-in of Twitter's account/verify_credentials for one consumer key.
type Twitter struct {
	// ConsumerKey and ConsumerSecret are the application's.
	ConsumerKey, ConsumerSecret string
	srv                         *httptest.Server
	mu                          sync.Mutex
	tokens                      map[string]twitterToken
}

// NewTwitter starts a Twitter stand-in for the consumer (key, secret), closed when t ends.
func NewTwitter(t testing.TB, consumerKey, consumerSecret string) *Twitter {
	tw := &Twitter{ConsumerKey: consumerKey, ConsumerSecret: consumerSecret, tokens: map[string]twitterToken{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /1.1/account/verify_credentials.json", tw.verify)
	tw.srv = httptest.NewServer(mux)
	t.Cleanup(tw.srv.Close)
	return tw
}

// URL is the base URL, for twitter.Config.APIURL.
func (tw *Twitter) URL() string { return tw.srv.URL + "/1.1" }

// Add makes the access token (token, secret) known for u, misbehaving as f says.
func (tw *Twitter) Add(token, secret string, u TwitterUser, f Failure) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.tokens[token] = twitterToken{secret: secret, user: u, failure: f}
}

// Revoke forgets token, as when the user revokes the application's access.
func (tw *Twitter) Revoke(token string) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	delete(tw.tokens, token)
}

func twitterError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"errors": []any{map[string]any{"code": code, "message": msg}}})
}

func (tw *Twitter) verify(w http.ResponseWriter, r *http.Request) {
	h, err := oauth1.Header(r.Header.Get("Authorization"))
	if err != nil || h["oauth_consumer_key"] != tw.ConsumerKey {
		twitterError(w, http.StatusUnauthorized, 32, "Could not authenticate you.")
		return
	}
	tw.mu.Lock()
	tt, known := tw.tokens[h["oauth_token"]]
	tw.mu.Unlock()
	if !known {
		twitterError(w, http.StatusUnauthorized, 89, "Invalid or expired token.")
		return
	}
	if failed(w, r, tt.failure) {
		return
	}
	if _, err := oauth1.Verify(r, func(ck, tok string) (string, string, bool) {
		return tw.ConsumerSecret, tt.secret, true
	}); err != nil {
		twitterError(w, http.StatusUnauthorized, 32, "Could not authenticate you.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": json.Number(tt.user.IDStr), "id_str": tt.user.IDStr, "name": tt.user.Name,
		"screen_name": tt.user.ScreenName, "protected": false, "followers_count": 0,
	})
}

// failed answers for f and reports whether it did.
func failed(w http.ResponseWriter, r *http.Request, f Failure) bool {
	switch f {
	case ServerError:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error":{"message":"An unexpected error has occurred. Please retry your request later.","type":"OAuthException","is_transient":true,"code":2}}`)
		return true
	case Stall:
		<-r.Context().Done()
		return true
	case Oversized:
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"pad":"`+strings.Repeat("x", OversizedBytes)+`"}`)
		return true
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

package httpadapter_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/socialtest"
	"github.com/identitykit/identity/provider/facebook"
	"github.com/identitykit/identity/provider/twitter"
)

const bodyUnavailable = `{"errors":["Service temporarily unavailable, retry later"]}`

// socialEnv is an env whose application accepts facebook and twitter sign-ins, verified by
// the stand-ins of the Graph API and of Twitter's API.
func socialEnv(t *testing.T) (*env, *socialtest.Graph, *socialtest.Twitter) {
	t.Helper()
	graph := socialtest.NewGraph(t, "123456", "graph-app-secret", nil)
	api := socialtest.NewTwitter(t, "tw-key", "tw-consumer-secret")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	fb, err := facebook.New(facebook.Config{GraphURL: graph.URL(), Timeout: 200 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	tw, err := twitter.New(twitter.Config{APIURL: api.URL(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var s identity.AppSettings
	if err := fb.Enable(&s, facebook.AppConfig{AppID: "123456", AppSecret: "graph-app-secret"}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Enable(&s, twitter.AppConfig{ConsumerKey: "tw-key", ConsumerSecret: "tw-consumer-secret"}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *envOpt) {
		o.settings = s
		o.providers = []identity.Provider{fb, tw}
	})
	return e, graph, api
}

// TestSocialWire checks facebook and twitter as ConnectyCube clients call them: JSON and
// form bodies with nested keys, POST /session and POST /login, and the bodies of every
// refusal (422 missing keys, 401 refused tokens, 503 upstream failures, 403 disabled).
func TestSocialWire(t *testing.T) {
	e, graph, api := socialEnv(t)
	graph.Add("EAAgood", socialtest.FacebookToken{UserID: "10101", Name: "Ann Lee", Email: "ann@example.com"})
	graph.Add("EAAforeign", socialtest.FacebookToken{UserID: "10102", AppID: "999"})
	graph.Add("EAAexpired", socialtest.FacebookToken{UserID: "10103", ExpiresAt: e.clock.Now().Add(-time.Hour)})
	graph.Add("EAAdown", socialtest.FacebookToken{UserID: "10104", Failure: socialtest.ServerError})
	graph.Add("EAAslow", socialtest.FacebookToken{UserID: "10105", Failure: socialtest.Stall})
	api.Add("tw-good", "tw-good-secret", socialtest.TwitterUser{IDStr: "2244994945", Name: "Dev"}, socialtest.OK)
	api.Add("tw-down", "tw-down-secret", socialtest.TwitterUser{IDStr: "1"}, socialtest.ServerError)
	form := "application_id=" + itoa(e.app.ID) + "&auth_key=" + e.app.AuthKey

	r := e.do("POST", "/session.json", e.sessionBody(`,"provider":"facebook","keys":{"token":"EAAgood"}`))
	wantStatus(t, r, 201, "")
	fbUser := session(t, r)["user"].(map[string]any)
	if fbUser["facebook_id"] != "10101" || fbUser["full_name"] != "Ann Lee" || fbUser["email"] != "ann@example.com" {
		t.Fatalf("facebook user %v", fbUser)
	}
	r = e.do("POST", "/session.json", e.sessionBody(`,"provider":"twitter","keys":{"token":"tw-good","secret":"tw-good-secret"}`))
	wantStatus(t, r, 201, "")
	twUser := session(t, r)["user"].(map[string]any)
	if twUser["twitter_id"] != "2244994945" || twUser["id"] == fbUser["id"] {
		t.Fatalf("twitter user %v", twUser)
	}

	for _, tt := range []struct {
		name, path, body string
		code             int
		want             string
		user             map[string]any
	}{
		{"facebook form", "/session.json", form + "&provider=facebook&keys%5Btoken%5D=EAAgood", 201, "", fbUser},
		{"facebook flat keys in JSON", "/session.json", e.sessionBody(`,"provider":"facebook","keys[token]":"EAAgood"`), 201, "", fbUser},
		{"twitter form", "/session.json", form + "&provider=twitter&keys%5Btoken%5D=tw-good&keys%5Bsecret%5D=tw-good-secret", 201, "", twUser},
		{"facebook login", "/login.json", `{"provider":"facebook","keys":{"token":"EAAgood"}}`, 202, "", fbUser},
		{"twitter login form", "/login.json", "provider=twitter&keys%5Btoken%5D=tw-good&keys%5Bsecret%5D=tw-good-secret", 202, "", twUser},
		{"facebook no token", "/session.json", e.sessionBody(`,"provider":"facebook"`), 422,
			`{"errors":["Bad Authentication data. Invalid input parameters provided: no 'keys[token]' parameter provided"]}`, nil},
		{"twitter no keys", "/login.json", `{"provider":"twitter"}`, 422,
			`{"errors":["Bad Authentication data. Invalid input parameters provided: no 'keys[token]' and 'keys[secret]' parameters provided"]}`, nil},
		{"twitter no secret", "/session.json", e.sessionBody(`,"provider":"twitter","keys":{"token":"tw-good"}`), 422,
			`{"errors":["Bad Authentication data. Invalid input parameters provided: no 'keys[secret]' parameter provided"]}`, nil},
		{"facebook token of another app", "/session.json", e.sessionBody(`,"provider":"facebook","keys":{"token":"EAAforeign"}`), 401, bodyUnauthorized, nil},
		{"facebook expired token", "/login.json", `{"provider":"facebook","keys":{"token":"EAAexpired"}}`, 401, bodyUnauthorized, nil},
		{"facebook unknown token", "/session.json", e.sessionBody(`,"provider":"facebook","keys":{"token":"EAAnobody"}`), 401, bodyUnauthorized, nil},
		{"twitter wrong secret", "/session.json", e.sessionBody(`,"provider":"twitter","keys":{"token":"tw-good","secret":"guess"}`), 401, bodyUnauthorized, nil},
		{"facebook server error", "/session.json", e.sessionBody(`,"provider":"facebook","keys":{"token":"EAAdown"}`), 503, bodyUnavailable, nil},
		{"facebook slow server", "/session.json", e.sessionBody(`,"provider":"facebook","keys":{"token":"EAAslow"}`), 503, bodyUnavailable, nil},
		{"twitter server error", "/login.json", `{"provider":"twitter","keys":{"token":"tw-down","secret":"tw-down-secret"}}`, 503, bodyUnavailable, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.path == "/login.json" {
				headers = append(headers, "CB-Token: "+e.appSession())
			}
			r := e.do("POST", tt.path, tt.body, headers...)
			wantStatus(t, r, tt.code, tt.want)
			if tt.user != nil {
				var u map[string]any
				if tt.code == 201 {
					u = session(t, r)["user"].(map[string]any)
				} else {
					u = r.json(t)["user"].(map[string]any)
				}
				if u["id"] != tt.user["id"] {
					t.Fatalf("user %v, want id %v", u["id"], tt.user["id"])
				}
			}
			for _, upstream := range []string{"OAuthException", "Invalid OAuth", "Could not authenticate", "unexpected error"} {
				if strings.Contains(r.Body, upstream) {
					t.Fatalf("the upstream's text reached the client: %s", r.Body)
				}
			}
		})
	}

	// An application without the settings: 403 naming the provider.
	bare, err := e.id.CreateApplication(context.Background(), "bare", identity.AppSettings{})
	if err != nil {
		t.Fatal(err)
	}
	for provider, title := range map[string]string{"facebook": "Facebook", "twitter": "Twitter"} {
		r := e.do("POST", "/session.json", `{"application_id":`+itoa(bare.ID)+`,"auth_key":`+jsonStr(bare.AuthKey)+
			`,"provider":"`+provider+`","keys":{"token":"EAAgood","secret":"x"}}`)
		wantStatus(t, r, 403, `{"errors":{"base":["`+title+` is not enabled for this application"]}}`)
	}
	for _, secret := range []string{"EAAgood", "graph-app-secret", "tw-good-secret", "tw-consumer-secret"} {
		if strings.Contains(e.logs.String(), secret) {
			t.Errorf("the log holds %q:\n%s", secret, e.logs)
		}
	}
}

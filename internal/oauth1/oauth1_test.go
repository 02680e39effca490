package oauth1

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// TestSignatureKnownVector reproduces the worked example of Twitter's "creating a
// signature" guide: a POST to statuses/update with one query and one body parameter.
func TestSignatureKnownVector(t *testing.T) {
	u, _ := url.Parse("https://api.twitter.com/1.1/statuses/update.json?include_entities=true")
	params := u.Query()
	params.Set("status", "Hello Ladies + Gentlemen, a signed OAuth request!")
	params.Set("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog")
	params.Set("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg")
	params.Set("oauth_signature_method", "HMAC-SHA1")
	params.Set("oauth_timestamp", "1318622958")
	params.Set("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb")
	params.Set("oauth_version", "1.0")
	base := BaseString("post", u, params)
	wantBase := "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521"
	if base != wantBase {
		t.Fatalf("base string\n got %s\nwant %s", base, wantBase)
	}
	got := Signature(base, "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE")
	if want := "hCtSmYh+iHYCEqBWrE7C7hYmtUk="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	c := Credentials{ConsumerKey: "ck", ConsumerSecret: "cs&/+", Token: "tok 1", TokenSecret: "ts=2"}
	secrets := func(ck, tok string) (string, string, bool) {
		if ck == c.ConsumerKey && tok == c.Token {
			return c.ConsumerSecret, c.TokenSecret, true
		}
		return "", "", false
	}
	r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:9/1.1/account/verify_credentials.json?skip_status=true&a=%20b", nil)
	if err := Sign(r, c, time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	// What a server sees: the path and query, the host apart.
	srv := httptest.NewRequest(http.MethodGet, "/1.1/account/verify_credentials.json?skip_status=true&a=%20b", nil)
	srv.Host = "127.0.0.1:9"
	srv.Header = r.Header.Clone()
	h, err := Verify(srv, secrets)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if h["oauth_token"] != "tok 1" || h["oauth_timestamp"] != "1700000000" {
		t.Fatalf("header params %v", h)
	}
	for name, mutate := range map[string]func(*http.Request){
		"other query":        func(r *http.Request) { r.URL.RawQuery = "skip_status=false&a=%20b" },
		"other path":         func(r *http.Request) { r.URL.Path = "/1.1/other.json" },
		"wrong token secret": func(r *http.Request) { c.TokenSecret = "x" },
		"no header":          func(r *http.Request) { r.Header.Del("Authorization") },
	} {
		t.Run(name, func(t *testing.T) {
			saved := c
			defer func() { c = saved }()
			cp := srv.Clone(srv.Context())
			cp.URL = new(url.URL)
			*cp.URL = *srv.URL
			mutate(cp)
			if _, err := Verify(cp, secrets); err == nil {
				t.Fatal("Verify accepted a changed request")
			}
		})
	}
}

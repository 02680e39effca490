// Package oauth1 signs and verifies OAuth 1.0a requests with HMAC-SHA1: the client side for
// provider/twitter, the server side for the test stand-ins of the Twitter API.
package oauth1

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Credentials are the two key pairs that sign a request: the application's consumer key and
// secret, and the user's access token and token secret.
type Credentials struct {
	ConsumerKey, ConsumerSecret string
	Token, TokenSecret          string
}

// Escape percent-encodes s as OAuth 1.0a requires: every byte except the unreserved
// characters A-Z a-z 0-9 - . _ ~ becomes %XX with upper-case hex digits.
func Escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

// BaseString is the signature base string of a request: the method, the URL without query
// or fragment, and every parameter (query, form body and oauth_* values, without
// oauth_signature), encoded, sorted by name then value, and joined.
func BaseString(method string, u *url.URL, params url.Values) string {
	type kv struct{ k, v string }
	var pairs []kv
	for k, vs := range params {
		if k == "oauth_signature" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, kv{Escape(k), Escape(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	enc := make([]string, len(pairs))
	for i, p := range pairs {
		enc[i] = p.k + "=" + p.v
	}
	base := url.URL{Scheme: strings.ToLower(u.Scheme), Host: strings.ToLower(u.Host), Path: u.Path, RawPath: u.RawPath}
	if base.Path == "" {
		base.Path = "/"
	}
	return strings.ToUpper(method) + "&" + Escape(base.String()) + "&" + Escape(strings.Join(enc, "&"))
}

// Signature is the base64 HMAC-SHA1 of base keyed by the escaped consumer secret and token
// secret joined by "&".
func Signature(base, consumerSecret, tokenSecret string) string {
	m := hmac.New(sha1.New, []byte(Escape(consumerSecret)+"&"+Escape(tokenSecret)))
	m.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Sign sets the Authorization header of r (whose body, if any, is not signed: use it for
// requests whose parameters are all in the query) with c, the time now and a random nonce.
func Sign(r *http.Request, c Credentials, now time.Time) error {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	oauth := map[string]string{
		"oauth_consumer_key":     c.ConsumerKey,
		"oauth_nonce":            hex.EncodeToString(nonce),
		"oauth_signature_method": "HMAC-SHA1",
		"oauth_timestamp":        strconv.FormatInt(now.Unix(), 10),
		"oauth_token":            c.Token,
		"oauth_version":          "1.0",
	}
	params := r.URL.Query()
	for k, v := range oauth {
		params.Set(k, v)
	}
	oauth["oauth_signature"] = Signature(BaseString(r.Method, r.URL, params), c.ConsumerSecret, c.TokenSecret)
	keys := make([]string, 0, len(oauth))
	for k := range oauth {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + `="` + Escape(oauth[k]) + `"`
	}
	r.Header.Set("Authorization", "OAuth "+strings.Join(parts, ", "))
	return nil
}

// Header parses an "OAuth k="v", ..." Authorization header into its decoded parameters.
func Header(h string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(h, "OAuth ")
	if !ok {
		return nil, errors.New("oauth1: not an OAuth authorization header")
	}
	out := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, errors.New("oauth1: malformed authorization header")
		}
		dv, err := url.PathUnescape(v[1 : len(v)-1])
		if err != nil {
			return nil, errors.New("oauth1: malformed authorization header")
		}
		out[k] = dv
	}
	return out, nil
}

// Verify checks the HMAC-SHA1 signature of a GET request signed by Sign against the secrets
// that secrets returns for the header's consumer key and token (ok false: unknown). It
// returns the header's parameters.
func Verify(r *http.Request, secrets func(consumerKey, token string) (consumerSecret, tokenSecret string, ok bool)) (map[string]string, error) {
	h, err := Header(r.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	if h["oauth_signature_method"] != "HMAC-SHA1" || h["oauth_version"] != "1.0" || h["oauth_nonce"] == "" || h["oauth_timestamp"] == "" {
		return nil, errors.New("oauth1: missing or unsupported oauth parameters")
	}
	cs, ts, ok := secrets(h["oauth_consumer_key"], h["oauth_token"])
	if !ok {
		return nil, errors.New("oauth1: unknown consumer key or token")
	}
	params := r.URL.Query()
	for k, v := range h {
		params.Set(k, v)
	}
	u := *r.URL
	if u.Host == "" {
		u.Host = r.Host
		u.Scheme = "http"
		if r.TLS != nil {
			u.Scheme = "https"
		}
	}
	want := Signature(BaseString(r.Method, &u, params), cs, ts)
	if subtle.ConstantTimeCompare([]byte(want), []byte(h["oauth_signature"])) != 1 {
		return nil, errors.New("oauth1: bad signature")
	}
	return h, nil
}

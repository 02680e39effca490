package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/provider/cidp"
	"github.com/identitykit/identity/provider/facebook"
	"github.com/identitykit/identity/provider/firebase"
	"github.com/identitykit/identity/provider/oidc"
	"github.com/identitykit/identity/provider/twitter"
)

// providerNames are the providers whose per-application configuration the provider flags
// govern: at start, each is set on the server's application when its flags enable it and
// removed when they do not.
var providerNames = []string{firebase.PhoneProvider, firebase.EmailProvider, "cidp", "oidc", facebook.Name, twitter.Name}

// providerFlags are the settings of the external identity providers (Firebase, Custom
// Identity Provider, OIDC ID tokens).
type providerFlags struct {
	// Firebase: enabled by FirebaseProjectIDs.
	FirebaseProjectIDs           []string
	FirebaseProviders            []string // firebase_phone and/or firebase_email
	FirebaseKeySetURL            string
	FirebaseInsecureEmulator     bool
	FirebaseRequireEmailVerified bool
	// Custom Identity Provider: enabled by CIdP.Endpoint.
	CIdP        cidp.AppConfig
	CIdPTimeout time.Duration
	// OIDC ID tokens: enabled by OIDC.Issuer.
	OIDC oidc.AppConfig
	// Facebook: enabled by Facebook.AppID; Twitter: enabled by Twitter.ConsumerKey.
	Facebook         facebook.AppConfig
	FacebookGraphURL string
	Twitter          twitter.AppConfig
	TwitterAPIURL    string

	raw providerRaw
	// Filled by check: the per-application configurations, by provider name.
	configs map[string]json.RawMessage
}

// secretFlag is a string flag whose value --help never prints (CIdP request headers may
// hold an API key).
type secretFlag struct{ p *string }

func (f secretFlag) String() string { return "" }
func (f secretFlag) Set(s string) error {
	*f.p = s
	return nil
}

// addProviderFlags defines the provider flags on fs; env reads a variable with a default.
func addProviderFlags(fs *flag.FlagSet, env func(name, def string) string, envErrs *[]string, p *providerFlags) {
	raw := &p.raw
	str := func(ptr *string, name, envName, def, help string) {
		fs.StringVar(ptr, name, env(envName, def), help+" (env "+envName+")")
	}
	boolean := func(ptr *bool, name, envName string, help string) {
		var v bool
		if s := env(envName, ""); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				*envErrs = append(*envErrs, fmt.Sprintf("%s=%q: not a boolean", envName, s))
			}
			v = b
		}
		fs.BoolVar(ptr, name, v, help+" (env "+envName+")")
	}
	str(&raw.firebaseProjects, "firebase-project-ids", "IDENTITY_FIREBASE_PROJECT_IDS", "",
		"comma-separated Firebase project ids whose ID tokens sign users in (enables Firebase sign-in)")
	str(&raw.firebaseProviders, "firebase-providers", "IDENTITY_FIREBASE_PROVIDERS", "firebase_phone,firebase_email",
		"which Firebase sign-ins to enable: firebase_phone, firebase_email or both")
	str(&p.FirebaseKeySetURL, "firebase-key-set-url", "IDENTITY_FIREBASE_KEY_SET_URL", firebase.DefaultKeySetURL,
		"JSON Web Key Set of the keys signing Firebase ID tokens (override for tests and egress proxies)")
	boolean(&p.FirebaseInsecureEmulator, "firebase-insecure-emulator", "IDENTITY_FIREBASE_INSECURE_EMULATOR",
		"accept the unsigned tokens of the Firebase Auth emulator: anyone can sign in as anyone, local development only")
	boolean(&p.FirebaseRequireEmailVerified, "firebase-require-email-verified", "IDENTITY_FIREBASE_REQUIRE_EMAIL_VERIFIED",
		"refuse firebase_email tokens whose email is not verified (recommended when the project allows email/password sign-up)")

	str(&p.CIdP.Endpoint, "cidp-endpoint", "IDENTITY_CIDP_ENDPOINT", "",
		"URL of your Custom Identity Provider verify endpoint (enables CIdP: every login/password of the application goes to it)")
	str(&p.CIdP.Method, "cidp-method", "IDENTITY_CIDP_METHOD", "GET", "CIdP request method: GET or POST")
	raw.cidpHeaders = env("IDENTITY_CIDP_REQUEST_HEADERS", "")
	fs.Var(secretFlag{&raw.cidpHeaders}, "cidp-request-headers",
		`CIdP request headers, a JSON object; values may use #{login} and #{password}, e.g. {"Authorization":"Bearer #{login}"} (env IDENTITY_CIDP_REQUEST_HEADERS; never printed)`)
	str(&raw.cidpParams, "cidp-request-params", "IDENTITY_CIDP_REQUEST_PARAMS", "",
		`CIdP request parameters, a JSON object; values may use #{login} and #{password}, e.g. {"token":"#{login}"}`)
	str(&raw.cidpResponse, "cidp-response-params", "IDENTITY_CIDP_RESPONSE_PARAMS", "",
		`CIdP response mapping, a JSON object from user fields to paths in the answer; uid is required, e.g. {"uid":"#{user.id}","login":"#{user.login}","email":"#{user.email}","full_name":"#{user.name}"}`)
	str(&p.CIdP.RequestFormat, "cidp-request-format", "IDENTITY_CIDP_REQUEST_FORMAT", "form", "CIdP POST body format: form or json")
	fs.DurationVar(&p.CIdPTimeout, "cidp-timeout", cidp.DefaultTimeout, "time limit of one CIdP request (env IDENTITY_CIDP_TIMEOUT)")
	if s := env("IDENTITY_CIDP_TIMEOUT", ""); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			*envErrs = append(*envErrs, fmt.Sprintf("IDENTITY_CIDP_TIMEOUT=%q: not a duration", s))
		}
		p.CIdPTimeout = d
	}

	str(&p.Facebook.AppID, "facebook-app-id", "IDENTITY_FACEBOOK_APP_ID", "",
		"Facebook app id whose user access tokens sign users in with provider=facebook and keys[token] (enables Facebook; needs the app secret)")
	p.Facebook.AppSecret = env("IDENTITY_FACEBOOK_APP_SECRET", "")
	fs.Var(secretFlag{&p.Facebook.AppSecret}, "facebook-app-secret", "Facebook app secret (env IDENTITY_FACEBOOK_APP_SECRET; never printed)")
	str(&p.FacebookGraphURL, "facebook-graph-url", "IDENTITY_FACEBOOK_GRAPH_URL", facebook.DefaultGraphURL,
		"Graph API base URL with its version (override for tests and egress proxies)")
	str(&p.Twitter.ConsumerKey, "twitter-consumer-key", "IDENTITY_TWITTER_CONSUMER_KEY", "",
		"Twitter app API key whose OAuth 1.0a access tokens sign users in with provider=twitter, keys[token] and keys[secret] (enables Twitter; needs the secret)")
	p.Twitter.ConsumerSecret = env("IDENTITY_TWITTER_CONSUMER_SECRET", "")
	fs.Var(secretFlag{&p.Twitter.ConsumerSecret}, "twitter-consumer-secret", "Twitter app API key secret (env IDENTITY_TWITTER_CONSUMER_SECRET; never printed)")
	str(&p.TwitterAPIURL, "twitter-api-url", "IDENTITY_TWITTER_API_URL", twitter.DefaultAPIURL,
		"Twitter API base URL (override for tests and egress proxies)")

	str(&p.OIDC.Issuer, "oidc-issuer", "IDENTITY_OIDC_ISSUER", "",
		"OpenID Connect issuer whose ID tokens sign users in with provider=oidc and keys[token] (enables OIDC; https, or http on loopback)")
	str(&raw.oidcClients, "oidc-client-ids", "IDENTITY_OIDC_CLIENT_IDS", "", "comma-separated client ids an ID token's audience must name")
	str(&raw.oidcAlgs, "oidc-algorithms", "IDENTITY_OIDC_ALGORITHMS", "",
		"comma-separated signing algorithms accepted (default: those the issuer's discovery advertises, RS256 with -oidc-jwks-url)")
	str(&p.OIDC.JWKSURL, "oidc-jwks-url", "IDENTITY_OIDC_JWKS_URL", "", "key set URL used instead of the issuer's discovery document")
	str(&raw.oidcClaims, "oidc-claims", "IDENTITY_OIDC_CLAIMS", "",
		`user fields from ID token claims, a JSON object, e.g. {"login":"#{preferred_username}","email":"#{email}","full_name":"#{name}"} (default email and name)`)
}

// providerRaw holds the text of the list and JSON flags until check parses it.
type providerRaw struct {
	firebaseProjects, firebaseProviders   string
	cidpHeaders, cidpParams, cidpResponse string
	oidcClients, oidcAlgs, oidcClaims     string
}

// check parses the list and JSON flags and validates every enabled provider's
// configuration, so that a bad setting stops the server at start.
func (p *providerFlags) check() error {
	raw := &p.raw
	p.FirebaseProjectIDs = splitList(raw.firebaseProjects)
	p.FirebaseProviders = splitList(raw.firebaseProviders)
	p.OIDC.ClientIDs = splitList(raw.oidcClients)
	p.OIDC.Algorithms = splitList(raw.oidcAlgs)
	jsonFlags := []struct {
		name, text string
		dst        *map[string]string
	}{
		{"-cidp-request-headers", raw.cidpHeaders, &p.CIdP.RequestHeaders},
		{"-cidp-request-params", raw.cidpParams, &p.CIdP.RequestParams},
		{"-cidp-response-params", raw.cidpResponse, &p.CIdP.ResponseParams},
		{"-oidc-claims", raw.oidcClaims, &p.OIDC.Claims},
	}
	for _, f := range jsonFlags {
		if strings.TrimSpace(f.text) == "" {
			continue
		}
		if err := json.Unmarshal([]byte(f.text), f.dst); err != nil {
			// The text may hold a secret (a header's API key): do not quote it.
			return fmt.Errorf("%s: want a JSON object of strings", f.name)
		}
	}
	if p.CIdP.Endpoint == "" && (raw.cidpHeaders != "" || raw.cidpParams != "" || raw.cidpResponse != "") {
		return fmt.Errorf("-cidp-request-*/-cidp-response-params need -cidp-endpoint")
	}
	if p.OIDC.Issuer == "" && (raw.oidcClients != "" || raw.oidcAlgs != "" || raw.oidcClaims != "" || p.OIDC.JWKSURL != "") {
		return fmt.Errorf("-oidc-* settings need -oidc-issuer")
	}
	if p.CIdPTimeout <= 0 {
		return fmt.Errorf("-cidp-timeout must be positive")
	}

	var s identity.AppSettings
	if len(p.FirebaseProjectIDs) > 0 {
		if len(p.FirebaseProviders) == 0 {
			return fmt.Errorf("-firebase-providers: name firebase_phone, firebase_email or both")
		}
		for _, name := range p.FirebaseProviders {
			ac := firebase.AppConfig{ProjectIDs: p.FirebaseProjectIDs}
			if name == firebase.EmailProvider {
				ac.RequireEmailVerified = p.FirebaseRequireEmailVerified
			}
			fp, err := firebase.New(firebase.Config{Name: name})
			if err != nil {
				return fmt.Errorf("-firebase-providers: %w", err)
			}
			if err := fp.Enable(&s, ac); err != nil {
				return fmt.Errorf("-firebase-*: %w", err)
			}
		}
	}
	if p.CIdP.Endpoint != "" {
		cp, err := cidp.New(cidp.Config{})
		if err != nil {
			return err
		}
		if err := cp.Enable(&s, p.CIdP); err != nil {
			return fmt.Errorf("-cidp-*: %w", err)
		}
	}
	if p.OIDC.Issuer != "" {
		op, err := oidc.New(oidc.Config{})
		if err != nil {
			return err
		}
		if err := op.Enable(&s, p.OIDC); err != nil {
			return fmt.Errorf("-oidc-*: %w", err)
		}
	}
	if p.Facebook.AppID != "" || p.Facebook.AppSecret != "" {
		fb, err := facebook.New(facebook.Config{GraphURL: p.FacebookGraphURL})
		if err != nil {
			return fmt.Errorf("-facebook-graph-url: %w", err)
		}
		if err := fb.Enable(&s, p.Facebook); err != nil {
			return fmt.Errorf("-facebook-*: %w", err)
		}
	}
	if p.Twitter.ConsumerKey != "" || p.Twitter.ConsumerSecret != "" {
		tw, err := twitter.New(twitter.Config{APIURL: p.TwitterAPIURL})
		if err != nil {
			return fmt.Errorf("-twitter-api-url: %w", err)
		}
		if err := tw.Enable(&s, p.Twitter); err != nil {
			return fmt.Errorf("-twitter-*: %w", err)
		}
	}
	p.configs = s.Providers
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// apply returns s with the provider settings of the flags: each governed provider's
// configuration set or removed, and login/password routed to CIdP when it is enabled (and
// back to the password provider when it no longer is). Other providers' settings are kept.
func (p *providerFlags) apply(s identity.AppSettings) identity.AppSettings {
	m := make(map[string]json.RawMessage, len(s.Providers)+len(p.configs))
	for k, v := range s.Providers {
		if !slices.Contains(providerNames, k) {
			m[k] = v
		}
	}
	for k, v := range p.configs {
		m[k] = v
	}
	if len(m) == 0 {
		m = nil
	}
	s.Providers = m
	switch {
	case p.configs["cidp"] != nil:
		s.PasswordProvider = "cidp"
	case s.PasswordProvider == "cidp":
		s.PasswordProvider = ""
	}
	return s
}

// providers returns the external provider instances for identity.Config.Providers: all of
// them, whatever the flags, since each application's stored settings (seeded by the flags,
// then changed with "server apps set") say which it uses, and a provider refuses the
// applications without its configuration. The flags set the process-wide options (the
// Firebase key set and emulator mode, the CIdP timeout, the Graph API and Twitter API base
// URLs); the Firebase providers log the
// emulator warning when it is on.
func (p *providerFlags) providers(log *slog.Logger) ([]identity.Provider, error) {
	var out []identity.Provider
	for _, name := range []string{firebase.PhoneProvider, firebase.EmailProvider} {
		fp, err := firebase.New(firebase.Config{
			Name:             name,
			KeySetURL:        p.FirebaseKeySetURL,
			HTTPClient:       &http.Client{Timeout: 10 * time.Second},
			InsecureEmulator: p.FirebaseInsecureEmulator,
			Logger:           log,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, fp)
	}
	cp, err := cidp.New(cidp.Config{Timeout: p.CIdPTimeout, Logger: log})
	if err != nil {
		return nil, err
	}
	op, err := oidc.New(oidc.Config{Logger: log})
	if err != nil {
		return nil, err
	}
	fb, err := facebook.New(facebook.Config{GraphURL: p.FacebookGraphURL, Logger: log})
	if err != nil {
		return nil, err
	}
	tw, err := twitter.New(twitter.Config{APIURL: p.TwitterAPIURL, Logger: log})
	if err != nil {
		return nil, err
	}
	return append(out, cp, op, fb, tw), nil
}

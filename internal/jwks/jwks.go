// Package jwks holds the signing keys that verify JSON Web Tokens for provider/firebase and
// provider/cidp: a cache of a remote JSON Web Key Set (Remote) and a fixed set of keys read
// from PEM (Keys). Both implement go-oidc's oidc.KeySet over what they hold, without I/O;
// Remote fetches in Ensure, which callers run before verifying.
//
// Remote replaces go-oidc's RemoteKeySet, which refetches the set for every token whose key
// is unknown or whose signature does not verify (so every forged token costs a request to
// the key server), never expires keys, does not bound the answer, and reports a failed fetch
// in a way that cannot be told apart from a bad signature.
package jwks

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/identitykit/identity"
)

// Why a token's signature was refused.
var (
	// ErrUnknownKey: no key held for the token's "kid".
	ErrUnknownKey = errors.New("token signed by an unknown key")
	// ErrSignature: the keys the token names do not verify its signature.
	ErrSignature = errors.New("signature does not verify")
	// ErrMalformed: not a compact JWS with one signature by an allowed algorithm.
	ErrMalformed = errors.New("malformed token")
)

// Defaults of Config.
const (
	// DefaultTimeout bounds one fetch of the key set.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxBytes bounds the key set answer.
	DefaultMaxBytes = 1 << 20
	// DefaultMinRefresh is the least time between two fetches.
	DefaultMinRefresh = time.Minute
	// DefaultLifetime applies when the answer has no Cache-Control max-age.
	DefaultLifetime = time.Hour
	// MaxLifetime caps an answer's max-age.
	MaxLifetime = 24 * time.Hour
	// MinRSABits is the smallest RSA key accepted.
	MinRSABits = 2048
)

// Options say which keys and tokens are acceptable.
type Options struct {
	// Algorithms are the signature algorithms tokens may use (asymmetric JWS algorithms).
	// A key is kept only if its type can sign with one of them and its "alg", when set, is
	// one of them. Required.
	Algorithms []jose.SignatureAlgorithm
	// RequireKeyID skips keys without "kid" and refuses tokens without one. Default false:
	// a key without id verifies tokens whatever their kid, and a token without kid is tried
	// with every key.
	RequireKeyID bool
}

// Source is where a verifier gets keys: a Remote or Keys.
type Source interface {
	oidc.KeySet
	// Ensure makes a key for kid ("" for a token without key id) available to
	// VerifySignature, fetching when needed. It returns nil, ErrUnknownKey, an error
	// wrapping identity.ErrUnavailable when the keys could not be fetched, or an error
	// wrapping the context's error.
	Ensure(ctx context.Context, kid string) error
}

var (
	_ Source = (*Remote)(nil)
	_ Source = Keys{}
)

// Config configures a Remote.
type Config struct {
	// URL of the JSON Web Key Set. Required.
	URL string
	// Client fetches the key set. Default http.DefaultClient.
	Client *http.Client
	// Timeout bounds one fetch. Default DefaultTimeout.
	Timeout time.Duration
	// MaxBytes bounds the answer. Default DefaultMaxBytes.
	MaxBytes int64
	// MinRefresh is the least time between two fetches, however many tokens name unknown
	// keys, and the least lifetime of fetched keys. Default DefaultMinRefresh.
	MinRefresh time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives fetch failures (warn) and fetches (debug). Default slog.Default().
	Logger *slog.Logger
	Options
}

// Remote caches the keys of a remote JSON Web Key Set. It is safe for concurrent use.
//
// Keys are fetched on first use and kept for the answer's Cache-Control max-age (between
// MinRefresh and MaxLifetime; DefaultLifetime without one). A kid that is not cached, or
// stale keys, trigger a refetch at most once per MinRefresh (that is how a rotation is
// picked up, and why forged tokens cost no requests); concurrent callers share one fetch,
// which runs in the background within Timeout; a waiting caller gives up when its context
// ends. When a refetch fails, the keys already cached stay in use.
type Remote struct {
	url        string
	client     *http.Client
	timeout    time.Duration
	maxBytes   int64
	minRefresh time.Duration
	now        func() time.Time
	log        *slog.Logger
	opts       Options

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetchedAt time.Time     // last fetch attempt, successful or not
	expiresAt time.Time     // the cached keys are stale after this
	lastErr   error         // outcome of the last fetch attempt
	inflight  chan struct{} // closed when the running fetch ends; nil when none runs
}

// NewRemote returns a cache of the key set at cfg.URL. It does no I/O.
func NewRemote(cfg Config) (*Remote, error) {
	if !strings.HasPrefix(cfg.URL, "https://") && !strings.HasPrefix(cfg.URL, "http://") {
		return nil, errors.New("jwks: the key set URL must be an http(s) URL")
	}
	if len(cfg.Algorithms) == 0 {
		return nil, errors.New("jwks: Options.Algorithms is empty")
	}
	if cfg.Timeout < 0 || cfg.MaxBytes < 0 || cfg.MinRefresh < 0 {
		return nil, errors.New("jwks: Config durations and sizes must not be negative")
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MinRefresh == 0 {
		cfg.MinRefresh = DefaultMinRefresh
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Remote{url: cfg.URL, client: cfg.Client, timeout: cfg.Timeout, maxBytes: cfg.MaxBytes,
		minRefresh: cfg.MinRefresh, now: cfg.Now, log: cfg.Logger, opts: cfg.Options}, nil
}

// has reports whether a cached key may verify a token with kid. Callers hold r.mu.
func (r *Remote) has(kid string) bool {
	if kid == "" && r.opts.RequireKeyID {
		return false
	}
	return slices.ContainsFunc(r.keys, func(k jose.JSONWebKey) bool { return matches(k, kid) })
}

// matches reports whether k may verify a token with kid.
func matches(k jose.JSONWebKey, kid string) bool {
	return kid == "" || k.KeyID == "" || k.KeyID == kid
}

// Ensure implements Source: it fetches the key set when kid is unknown or the cache is
// stale, unless the last fetch was less than MinRefresh ago, and joins a fetch already
// running.
func (r *Remote) Ensure(ctx context.Context, kid string) error {
	if kid == "" && r.opts.RequireKeyID {
		return ErrUnknownKey
	}
	for waited := false; ; waited = true {
		r.mu.Lock()
		now := r.now()
		known := r.has(kid)
		if known && now.Before(r.expiresAt) {
			r.mu.Unlock()
			return nil
		}
		recent := !r.fetchedAt.IsZero() && now.Sub(r.fetchedAt) < r.minRefresh && !now.Before(r.fetchedAt)
		if waited || (recent && r.inflight == nil) {
			lastErr := r.lastErr
			r.mu.Unlock()
			switch {
			case known:
				return nil
			case lastErr != nil:
				return fmt.Errorf("jwks: signing keys unavailable: %w", identity.ErrUnavailable)
			default:
				return ErrUnknownKey
			}
		}
		ch := r.inflight
		if ch == nil {
			ch = make(chan struct{})
			r.inflight = ch
			go r.fetch(context.WithoutCancel(ctx), ch)
		}
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("jwks: waiting for signing keys: %w", ctx.Err())
		}
	}
}

// fetch downloads the key set, records the outcome and closes done.
func (r *Remote) fetch(ctx context.Context, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	keys, lifetime, err := r.download(ctx)
	r.mu.Lock()
	now := r.now()
	r.fetchedAt = now
	r.lastErr = err
	if err == nil {
		r.keys = keys
		r.expiresAt = now.Add(lifetime)
	}
	r.inflight = nil
	r.mu.Unlock()
	close(done)
	if err != nil {
		r.log.Warn("jwks: fetching signing keys failed", "url", r.url, "err", err)
	} else {
		r.log.Debug("jwks: fetched signing keys", "url", r.url, "keys", len(keys), "lifetime", lifetime)
	}
}

func (r *Remote) download(ctx context.Context) ([]jose.JSONWebKey, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("jwks: key set request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("jwks: key set: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.maxBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("jwks: key set: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("jwks: key set: status %s", resp.Status)
	}
	if int64(len(body)) > r.maxBytes {
		return nil, 0, fmt.Errorf("jwks: key set: answer exceeds %d bytes", r.maxBytes)
	}
	keys, err := ParseSet(body, r.opts)
	if err != nil {
		return nil, 0, err
	}
	return keys, r.lifetime(resp.Header.Get("Cache-Control")), nil
}

// lifetime returns how long a fetched key set stays fresh, from its Cache-Control header.
func (r *Remote) lifetime(cacheControl string) time.Duration {
	d := DefaultLifetime
	for _, dir := range strings.Split(cacheControl, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
		if strings.EqualFold(name, "max-age") {
			if n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && n >= 0 {
				d = time.Duration(min(n, int64(MaxLifetime/time.Second))) * time.Second
			}
		}
	}
	return max(d, r.minRefresh)
}

// VerifySignature implements oidc.KeySet with the cached keys only: it verifies jwt with
// the keys its "kid" names and returns the payload, or fails with ErrMalformed,
// ErrUnknownKey or ErrSignature.
func (r *Remote) VerifySignature(_ context.Context, jwt string) ([]byte, error) {
	r.mu.Lock()
	keys := r.keys
	r.mu.Unlock()
	return verify(jwt, keys, r.opts)
}

// ParseSet returns the usable signature keys of a JSON Web Key Set: public RSA (at least
// MinRSABits), ECDSA and Ed25519 keys that suit opts and are not marked for encryption.
// Other keys are skipped, as RFC 7517 asks; a set without a usable key is an error.
func ParseSet(body []byte, opts Options) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("jwks: key set: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(raw, &jwk); err != nil {
			continue
		}
		if (jwk.Use != "" && jwk.Use != "sig") || !jwk.IsPublic() || (opts.RequireKeyID && jwk.KeyID == "") ||
			(jwk.Algorithm != "" && !slices.Contains(opts.Algorithms, jose.SignatureAlgorithm(jwk.Algorithm))) ||
			usable(jwk.Key, opts) != nil {
			continue
		}
		keys = append(keys, jwk)
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks: key set: no usable signature key")
	}
	return keys, nil
}

// usable reports why k cannot verify tokens signed with opts.Algorithms, or nil.
func usable(k any, opts Options) error {
	var fits func(a jose.SignatureAlgorithm) bool
	switch pub := k.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < MinRSABits {
			return fmt.Errorf("RSA key of %d bits (minimum %d)", pub.N.BitLen(), MinRSABits)
		}
		fits = func(a jose.SignatureAlgorithm) bool {
			return strings.HasPrefix(string(a), "RS") || strings.HasPrefix(string(a), "PS")
		}
	case *ecdsa.PublicKey:
		fits = func(a jose.SignatureAlgorithm) bool { return strings.HasPrefix(string(a), "ES") }
	case ed25519.PublicKey:
		fits = func(a jose.SignatureAlgorithm) bool { return a == jose.EdDSA }
	default:
		return fmt.Errorf("unsupported key type %T", k)
	}
	if !slices.ContainsFunc(opts.Algorithms, fits) {
		return fmt.Errorf("a %T suits none of the allowed algorithms", k)
	}
	return nil
}

// verify checks jwt against the keys its kid names.
func verify(jwt string, keys []jose.JSONWebKey, opts Options) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, opts.Algorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, ErrMalformed
	}
	kid := jws.Signatures[0].Header.KeyID
	if kid == "" && opts.RequireKeyID {
		return nil, ErrUnknownKey
	}
	matched := false
	for i := range keys {
		if !matches(keys[i], kid) {
			continue
		}
		matched = true
		if payload, err := jws.Verify(&keys[i]); err == nil {
			return payload, nil
		}
	}
	if !matched {
		return nil, ErrUnknownKey
	}
	return nil, ErrSignature
}

// Keys is a fixed set of keys, for example from an application's configuration. Keys
// without key id verify tokens whatever their kid.
type Keys struct {
	keys []jose.JSONWebKey
	opts Options
}

// Ensure implements Source: the keys are all there is.
func (k Keys) Ensure(context.Context, string) error { return nil }

// VerifySignature implements oidc.KeySet like Remote.VerifySignature.
func (k Keys) VerifySignature(_ context.Context, jwt string) ([]byte, error) {
	return verify(jwt, k.keys, k.opts)
}

// Len is the number of keys.
func (k Keys) Len() int { return len(k.keys) }

// PEMError reports which PEM string ParsePEM could not use.
type PEMError struct {
	// Index of the string in ParsePEM's argument.
	Index int
	// Err says why, without the PEM text.
	Err error
}

func (e *PEMError) Error() string { return fmt.Sprintf("jwks: PEM key %d: %v", e.Index, e.Err) }

func (e *PEMError) Unwrap() error { return e.Err }

// ParsePEM reads PEM blocks, PUBLIC KEY (PKIX) or CERTIFICATE, several per string allowed.
// Each becomes a key without key id. It fails with a *PEMError on a string without a block,
// another block type, or a key that does not suit opts (RSA below MinRSABits, a type no
// algorithm fits).
func ParsePEM(pems []string, opts Options) (Keys, error) {
	if len(opts.Algorithms) == 0 {
		return Keys{}, errors.New("jwks: Options.Algorithms is empty")
	}
	out := Keys{opts: opts}
	for i, s := range pems {
		rest := []byte(s)
		n := 0
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			var pub crypto.PublicKey
			switch b.Type {
			case "PUBLIC KEY":
				k, err := x509.ParsePKIXPublicKey(b.Bytes)
				if err != nil {
					return Keys{}, &PEMError{i, err}
				}
				pub = k
			case "CERTIFICATE":
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					return Keys{}, &PEMError{i, err}
				}
				pub = c.PublicKey
			default:
				return Keys{}, &PEMError{i, fmt.Errorf("PEM block %q is not a PUBLIC KEY or CERTIFICATE", b.Type)}
			}
			if err := usable(pub, opts); err != nil {
				return Keys{}, &PEMError{i, err}
			}
			out.keys = append(out.keys, jose.JSONWebKey{Key: pub})
			n++
		}
		if n == 0 {
			return Keys{}, &PEMError{i, errors.New("holds no PEM block")}
		}
	}
	return out, nil
}

package cidp

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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/identitykit/identity"
)

// signingAlgs are the algorithms an application may allow: go-oidc's asymmetric set. HMAC
// algorithms and "none" are never accepted.
var signingAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

func supportedAlg(a string) bool {
	for _, s := range signingAlgs {
		if string(s) == a {
			return true
		}
	}
	return false
}

// minRSABits is the smallest RSA key accepted from a key set or a PEM block.
const minRSABits = 2048

// Reasons an ID token is refused.
var (
	errTokenMalformed  = errors.New("malformed token")
	errTokenType       = errors.New("an access token (typ at+jwt), not an ID token")
	errTokenAlgorithm  = errors.New("signing algorithm not allowed")
	errTokenUnknownKey = errors.New("token signed by an unknown key")
	errTokenSignature  = errors.New("signature does not verify")
	errTokenIssuer     = errors.New("issuer does not match")
	errTokenAudience   = errors.New("audience names no allowed client id")
	errTokenExpired    = errors.New("token expired")
	errTokenClaims     = errors.New("token claims rejected")
	errTokenSubject    = errors.New("subject empty, too long or invalid")
)

// verifyingKeys is a source of verification keys: a remote JWKS or static PEM keys.
type verifyingKeys interface {
	oidc.KeySet
	// ensure makes the key kid ("" for a token without a key id) available to
	// VerifySignature, fetching when needed. It returns nil, errTokenUnknownKey, an error
	// wrapping identity.ErrUnavailable, or the context's error.
	ensure(ctx context.Context, kid string) error
}

// keySet caches the keys of a remote JSON Web Key Set. VerifySignature uses the cache only;
// the I/O is in ensure. Unlike go-oidc's RemoteKeySet it refetches at most once per
// minRefresh however many tokens name unknown keys (a forged token costs no request to the
// issuer), expires keys after the answer's max-age (bounded), keeps stale keys while
// fetches fail, bounds the response size, and reports a failed fetch as ErrUnavailable.
type keySet struct {
	url        string
	client     *http.Client
	timeout    time.Duration
	maxBody    int64
	minRefresh time.Duration
	now        func() time.Time
	log        *slog.Logger

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetchedAt time.Time     // last fetch attempt, successful or not
	expiresAt time.Time     // the cached keys are stale after this
	lastErr   error         // outcome of the last fetch attempt
	inflight  chan struct{} // closed when the running fetch ends; nil when none runs
}

const (
	defaultKeyLifetime = time.Hour
	maxKeyLifetime     = 24 * time.Hour
)

// has reports whether a cached key may verify a token with kid: a key with that id, or a
// key without id; any key for a token without kid.
func (k *keySet) has(kid string) bool {
	for i := range k.keys {
		if kid == "" || k.keys[i].KeyID == "" || k.keys[i].KeyID == kid {
			return true
		}
	}
	return false
}

func (k *keySet) ensure(ctx context.Context, kid string) error {
	for waited := false; ; waited = true {
		k.mu.Lock()
		now := k.now()
		known := k.has(kid)
		if known && now.Before(k.expiresAt) {
			k.mu.Unlock()
			return nil
		}
		recent := !k.fetchedAt.IsZero() && now.Sub(k.fetchedAt) < k.minRefresh && !now.Before(k.fetchedAt)
		if waited || (recent && k.inflight == nil) {
			lastErr := k.lastErr
			k.mu.Unlock()
			switch {
			case known:
				return nil
			case lastErr != nil:
				return fmt.Errorf("cidp: OIDC signing keys unavailable: %w", identity.ErrUnavailable)
			default:
				return errTokenUnknownKey
			}
		}
		ch := k.inflight
		if ch == nil {
			ch = make(chan struct{})
			k.inflight = ch
			go k.fetch(context.WithoutCancel(ctx), ch)
		}
		k.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("cidp: waiting for OIDC signing keys: %w", ctx.Err())
		}
	}
}

// fetch downloads the key set, records the outcome and closes done.
func (k *keySet) fetch(ctx context.Context, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	keys, lifetime, err := k.download(ctx)
	k.mu.Lock()
	now := k.now()
	k.fetchedAt = now
	k.lastErr = err
	if err == nil {
		k.keys = keys
		k.expiresAt = now.Add(lifetime)
	}
	k.inflight = nil
	k.mu.Unlock()
	close(done)
	if err != nil {
		k.log.Warn("cidp: fetching OIDC signing keys failed", "jwks_url", k.url, "err", err)
	} else {
		k.log.Debug("cidp: fetched OIDC signing keys", "jwks_url", k.url, "keys", len(keys), "lifetime", lifetime)
	}
}

func (k *keySet) download(ctx context.Context) ([]jose.JSONWebKey, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("cidp: key set request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("cidp: key set: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, k.maxBody+1))
	if err != nil {
		return nil, 0, fmt.Errorf("cidp: key set: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("cidp: key set: status %s", resp.Status)
	}
	if int64(len(body)) > k.maxBody {
		return nil, 0, fmt.Errorf("cidp: key set: answer exceeds %d bytes", k.maxBody)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, 0, err
	}
	return keys, k.lifetime(resp.Header.Get("Cache-Control")), nil
}

// parseJWKS returns the usable signature keys of a JSON Web Key Set: public RSA (at least
// 2048 bits), ECDSA and Ed25519 keys not marked for encryption. Other keys are skipped, as
// RFC 7517 asks; a set without a usable key is an error.
func parseJWKS(body []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("cidp: key set: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(raw, &jwk); err != nil {
			continue
		}
		if (jwk.Use != "" && jwk.Use != "sig") || !jwk.IsPublic() || usablePublicKey(jwk.Key) != nil {
			continue
		}
		keys = append(keys, jwk)
	}
	if len(keys) == 0 {
		return nil, errors.New("cidp: key set: no usable signature key")
	}
	return keys, nil
}

func usablePublicKey(k any) error {
	switch pub := k.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits (minimum %d)", pub.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return fmt.Errorf("unsupported key type %T", k)
	}
	return nil
}

// lifetime returns how long a fetched key set stays fresh, from its Cache-Control header.
func (k *keySet) lifetime(cacheControl string) time.Duration {
	d := defaultKeyLifetime
	for _, dir := range strings.Split(cacheControl, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
		if strings.EqualFold(name, "max-age") {
			if n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && n >= 0 {
				d = time.Duration(min(n, int64(maxKeyLifetime/time.Second))) * time.Second
			}
		}
	}
	return max(d, k.minRefresh)
}

// VerifySignature implements oidc.KeySet with the cached keys: it verifies jwt with the key
// its "kid" names (every key for a token without kid) and returns the payload.
func (k *keySet) VerifySignature(_ context.Context, jwt string) ([]byte, error) {
	k.mu.Lock()
	keys := k.keys
	k.mu.Unlock()
	return verifyWith(jwt, keys)
}

func verifyWith(jwt string, keys []jose.JSONWebKey) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, signingAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errTokenMalformed
	}
	kid := jws.Signatures[0].Header.KeyID
	matched := false
	for i := range keys {
		if kid != "" && keys[i].KeyID != "" && keys[i].KeyID != kid {
			continue
		}
		matched = true
		if payload, err := jws.Verify(&keys[i]); err == nil {
			return payload, nil
		}
	}
	if !matched {
		return nil, errTokenUnknownKey
	}
	return nil, errTokenSignature
}

// staticKeys are keys given in an application's configuration.
type staticKeys []jose.JSONWebKey

func (s staticKeys) ensure(context.Context, string) error { return nil }

func (s staticKeys) VerifySignature(_ context.Context, jwt string) ([]byte, error) {
	return verifyWith(jwt, s)
}

// parsePublicKeys reads PEM blocks: PUBLIC KEY (PKIX) or CERTIFICATE. Each block becomes a
// key without key id, which verifies tokens whatever their kid.
func parsePublicKeys(pems []string) (staticKeys, error) {
	var out staticKeys
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
					return nil, fmt.Errorf("cidp: public_keys[%d]: %v", i, err)
				}
				pub = k
			case "CERTIFICATE":
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					return nil, fmt.Errorf("cidp: public_keys[%d]: %v", i, err)
				}
				pub = c.PublicKey
			default:
				return nil, fmt.Errorf("cidp: public_keys[%d]: PEM block %q is not a PUBLIC KEY or CERTIFICATE", i, b.Type)
			}
			if err := usablePublicKey(pub); err != nil {
				return nil, fmt.Errorf("cidp: public_keys[%d]: %v", i, err)
			}
			out = append(out, jose.JSONWebKey{Key: pub})
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("cidp: public_keys[%d] holds no PEM block", i)
		}
	}
	return out, nil
}

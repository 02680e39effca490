package firebase

import (
	"context"
	"crypto/rsa"
	"encoding/json"
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

const (
	// fetchTimeout bounds one fetch of the key set.
	fetchTimeout = 10 * time.Second
	// maxKeySetBytes bounds the key set response (Google's is about 2 KB).
	maxKeySetBytes = 1 << 20
	// defaultKeyLifetime applies when the response has no Cache-Control max-age.
	defaultKeyLifetime = time.Hour
	// maxKeyLifetime caps a response's max-age.
	maxKeyLifetime = 24 * time.Hour
	// minRSABits is the smallest RSA key accepted from the key set.
	minRSABits = 2048
)

// keySet caches the RSA signing keys of a JSON Web Key Set by key id. It implements
// oidc.KeySet for go-oidc's verifier; the only I/O is in ensure, which callers run first.
//
// It replaces go-oidc's RemoteKeySet, which refetches the set for every token whose key is
// unknown or whose signature does not verify (so every forged token costs a request to the
// key server), never expires keys, and reports a failed fetch in a way that cannot be told
// apart from a bad signature.
type keySet struct {
	url        string
	client     *http.Client
	now        func() time.Time
	minRefresh time.Duration
	log        *slog.Logger

	mu        sync.Mutex
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time     // last fetch attempt, successful or not
	expiresAt time.Time     // cached keys are stale after this
	lastErr   error         // outcome of the last fetch attempt
	inflight  chan struct{} // closed when the running fetch ends; nil when none runs
}

var _ oidc.KeySet = (*keySet)(nil)

// ensure makes sure the key kid is cached. It fetches the key set when kid is unknown or the
// cache is stale, unless the last fetch was less than minRefresh ago, and joins a fetch that
// is already running. Stale keys are kept while fetches fail. It returns nil when kid is
// usable, errUnknownKey when the key set does not hold it, an error wrapping
// identity.ErrUnavailable when the key set could not be fetched, or the context's error.
func (k *keySet) ensure(ctx context.Context, kid string) error {
	for waited := false; ; waited = true {
		k.mu.Lock()
		now := k.now()
		_, known := k.keys[kid]
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
				return fmt.Errorf("firebase: signing keys unavailable: %w", identity.ErrUnavailable)
			default:
				return errUnknownKey
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
			return fmt.Errorf("firebase: waiting for signing keys: %w", ctx.Err())
		}
	}
}

// fetch downloads the key set, records the outcome and closes done.
func (k *keySet) fetch(ctx context.Context, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
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
	if err != nil {
		k.log.Warn("firebase: fetching signing keys failed", "err", err)
	} else {
		k.log.Debug("firebase: fetched signing keys", "keys", len(keys), "lifetime", lifetime)
	}
	close(done)
}

func (k *keySet) download(ctx context.Context) (map[string]*rsa.PublicKey, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("firebase: key set request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("firebase: key set: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("firebase: key set: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("firebase: key set: status %s", resp.Status)
	}
	if len(body) > maxKeySetBytes {
		return nil, 0, errors.New("firebase: key set: response too large")
	}
	keys, err := parseKeySet(body)
	if err != nil {
		return nil, 0, err
	}
	return keys, k.lifetime(resp.Header.Get("Cache-Control")), nil
}

// parseKeySet returns the usable keys of a JSON Web Key Set: RSA public keys of at least
// 2048 bits with a key id, meant for signatures with RS256. Other keys are skipped, as RFC
// 7517 asks; a set without a usable key is an error.
func parseKeySet(body []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("firebase: key set: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, raw := range set.Keys {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(raw, &jwk); err != nil {
			continue
		}
		pub, ok := jwk.Key.(*rsa.PublicKey)
		if !ok || jwk.KeyID == "" || pub.N.BitLen() < minRSABits ||
			(jwk.Use != "" && jwk.Use != "sig") || (jwk.Algorithm != "" && jwk.Algorithm != string(jose.RS256)) {
			continue
		}
		keys[jwk.KeyID] = pub
	}
	if len(keys) == 0 {
		return nil, errors.New("firebase: key set: no usable RS256 key")
	}
	return keys, nil
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

// VerifySignature implements oidc.KeySet with the cached keys only: it verifies the RS256
// signature of jwt with the key its "kid" names and returns the payload.
func (k *keySet) VerifySignature(_ context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, fmt.Errorf("firebase: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("firebase: token must carry exactly one signature")
	}
	k.mu.Lock()
	pub := k.keys[jws.Signatures[0].Header.KeyID]
	k.mu.Unlock()
	if pub == nil {
		return nil, errUnknownKey
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return nil, errors.New("firebase: signature does not verify")
	}
	return payload, nil
}

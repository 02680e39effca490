package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/identitykit/identity"
)

// MagicLink is an identity.Provider that is not in the box: it signs in whoever holds a
// token that was mailed to an address. A token is
//
//	base64url(app-id "|" email "|" expiry-unix "|" nonce) "." base64url(HMAC-SHA256(key, payload))
//
// It is valid for one application, until its expiry, and only once per process: used nonces are remembered until
// they expire. (Several processes would share that memory in Redis or the database.)
//
// Clients present it as ConnectyCube social logins are presented: POST /session with
// provider=magic_link and keys[token]=<token>, which the HTTP adapter hands to the provider
// as Credentials.Params["token"].
type MagicLink struct {
	key []byte
	ttl time.Duration

	mu   sync.Mutex
	used map[string]time.Time // nonce → expiry
}

var _ identity.Provider = (*MagicLink)(nil)

// NewMagicLink returns the provider. key signs tokens (32 random bytes are plenty); ttl is
// how long a mailed link stays valid.
func NewMagicLink(key []byte, ttl time.Duration) (*MagicLink, error) {
	if len(key) < 32 {
		return nil, errors.New("magiclink: key must have at least 32 bytes")
	}
	if ttl <= 0 {
		return nil, errors.New("magiclink: ttl must be positive")
	}
	return &MagicLink{key: key, ttl: ttl, used: map[string]time.Time{}}, nil
}

// Name is the wire name clients send as "provider".
func (m *MagicLink) Name() string { return "magic_link" }

// Issue returns a token for email in application appID, valid for the provider's ttl after
// now.
func (m *MagicLink) Issue(appID int64, email string, now time.Time) (string, error) {
	email = identity.NormalizeEmail(email)
	if email == "" || strings.Contains(email, "|") {
		return "", errors.New("magiclink: invalid email")
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	payload := strconv.FormatInt(appID, 10) + "|" + email + "|" + strconv.FormatInt(now.Add(m.ttl).Unix(), 10) + "|" + base64.RawURLEncoding.EncodeToString(nonce)
	enc := base64.RawURLEncoding.EncodeToString([]byte(payload))
	return enc + "." + base64.RawURLEncoding.EncodeToString(m.sign(enc)), nil
}

func (m *MagicLink) sign(encodedPayload string) []byte {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte(encodedPayload))
	return h.Sum(nil)
}

// Authenticate checks the token in Params["token"] and returns the user who owns its email
// address: an existing user with that email, or else a new user with that email and no
// password, linked to the address.
//
// It follows the identity.Provider contract: a missing token is an *identity.Error wrapping
// ErrInvalidInput that names the parameter; any bad token (forged, expired, replayed) is
// ErrInvalidCredentials, with no detail and never the token in the message.
func (m *MagicLink) Authenticate(ctx context.Context, req *identity.AuthRequest) (*identity.Claims, error) {
	token := req.Credentials.Params["token"]
	if token == "" {
		return nil, identity.NewError("magic link", identity.ErrInvalidInput, "keys[token]", "blank")
	}
	appID, email, nonce, exp, ok := m.verify(token)
	if !ok || appID != req.Application.ID || !req.Now.Before(exp) {
		return nil, identity.ErrInvalidCredentials
	}
	if !m.use(nonce, exp, req.Now) {
		return nil, identity.ErrInvalidCredentials
	}
	u, err := req.Users.UserByEmail(ctx, email)
	switch {
	case err == nil:
		return &identity.Claims{UserID: u.ID}, nil
	case errors.Is(err, identity.ErrUserNotFound):
		return &identity.Claims{Subject: email, Profile: identity.UserInput{Email: &email}}, nil
	default:
		return nil, err
	}
}

// verify checks the signature and splits the payload.
func (m *MagicLink) verify(token string) (appID int64, email, nonce string, exp time.Time, ok bool) {
	if len(token) > 1024 {
		return 0, "", "", time.Time{}, false
	}
	enc, sig, found := strings.Cut(token, ".")
	if !found {
		return 0, "", "", time.Time{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, m.sign(enc)) {
		return 0, "", "", time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return 0, "", "", time.Time{}, false
	}
	parts := strings.Split(string(payload), "|")
	if len(parts) != 4 {
		return 0, "", "", time.Time{}, false
	}
	appID, err1 := strconv.ParseInt(parts[0], 10, 64)
	unix, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, "", "", time.Time{}, false
	}
	return appID, parts[1], parts[3], time.Unix(unix, 0), true
}

// use records nonce as spent and reports whether it was fresh.
func (m *MagicLink) use(nonce string, exp, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for n, e := range m.used {
		if !now.Before(e) {
			delete(m.used, n)
		}
	}
	if _, spent := m.used[nonce]; spent {
		return false
	}
	m.used[nonce] = exp
	return true
}

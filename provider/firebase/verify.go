package firebase

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/identitykit/identity/internal/jwks"
)

const issuerPrefix = "https://securetoken.google.com/"

// maxSubjectLength is Firebase's bound on a uid, in characters.
const maxSubjectLength = 128

// verifier checks Firebase ID tokens; shared by both providers.
type verifier struct {
	keys     *jwks.Remote
	now      func() time.Time // nil: the caller's clock
	leeway   time.Duration
	maxSize  int
	emulator bool
	log      *slog.Logger
}

func newVerifier(cfg Config) (*verifier, error) {
	if cfg.KeySetURL == "" {
		cfg.KeySetURL = DefaultKeySetURL
	}
	if !strings.HasPrefix(cfg.KeySetURL, "https://") && !strings.HasPrefix(cfg.KeySetURL, "http://") {
		return nil, errors.New("firebase: Config.KeySetURL must be an http(s) URL")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: jwks.DefaultTimeout}
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = time.Minute
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	if cfg.MaxTokenSize == 0 {
		cfg.MaxTokenSize = 8192
	}
	if cfg.MinRefreshInterval == 0 {
		cfg.MinRefreshInterval = time.Minute
	}
	if cfg.MaxTokenSize < 0 || cfg.MinRefreshInterval < 0 {
		return nil, errors.New("firebase: Config.MaxTokenSize and MinRefreshInterval must not be negative")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	keyNow := cfg.Now
	if keyNow == nil {
		keyNow = time.Now
	}
	if cfg.InsecureEmulator {
		cfg.Logger.Warn("firebase: InsecureEmulator is on: unsigned Firebase Auth emulator tokens are accepted " +
			"and anyone can sign in as anyone; never use this setting in production")
	}
	keys, err := jwks.NewRemote(jwks.Config{
		URL:        cfg.KeySetURL,
		Client:     cfg.HTTPClient,
		MinRefresh: cfg.MinRefreshInterval,
		Now:        keyNow,
		Logger:     cfg.Logger,
		// Google publishes RSA keys with key ids, and Firebase signs with RS256 only.
		Options: jwks.Options{Algorithms: []jose.SignatureAlgorithm{jose.RS256}, RequireKeyID: true},
	})
	if err != nil {
		return nil, fmt.Errorf("firebase: %v", err)
	}
	return &verifier{
		keys:     keys,
		now:      cfg.Now,
		leeway:   cfg.Leeway,
		maxSize:  cfg.MaxTokenSize,
		emulator: cfg.InsecureEmulator,
		log:      cfg.Logger,
	}, nil
}

// tokenClaims are the claims this package reads beyond what go-oidc checks.
type tokenClaims struct {
	Subject       string      `json:"sub"`
	Expiry        numericDate `json:"exp"`
	IssuedAt      numericDate `json:"iat"`
	AuthTime      numericDate `json:"auth_time"`
	NotBefore     numericDate `json:"nbf"`
	PhoneNumber   string      `json:"phone_number"`
	Email         string      `json:"email"`
	EmailVerified bool        `json:"email_verified"`
}

// numericDate is a JWT NumericDate (seconds since the epoch, possibly fractional).
type numericDate struct {
	t   time.Time
	set bool
}

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("numeric date is not a number")
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f <= 0 || f > 1e11 {
		return errors.New("numeric date out of range")
	}
	sec, frac := math.Modf(f)
	d.t = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	d.set = true
	return nil
}

// verify checks raw for projectID at now and returns its claims. Errors other than those
// wrapping identity.ErrUnavailable or a context error are rejection reasons.
func (v *verifier) verify(ctx context.Context, raw, projectID string, now time.Time) (*tokenClaims, error) {
	if len(raw) > v.maxSize {
		return nil, errTooLarge
	}
	// Parsing verifies nothing; "none" is admitted here only to be told apart below.
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, "none"})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errMalformed
	}
	conf := &oidc.Config{
		ClientID:             projectID,
		SupportedSigningAlgs: []string{oidc.RS256},
		// Times are checked below, with leeway and the injected clock.
		SkipExpiryCheck: true,
	}
	hdr := jws.Signatures[0].Header
	if hdr.Algorithm == "none" {
		if !v.emulator {
			return nil, errUnsigned
		}
		// go-oidc parses the token again and sees the same "none" header; it then accepts
		// "none" and RS256 unverified, which is why RS256 tokens never take this branch.
		conf.InsecureSkipSignatureCheck = true
	} else {
		if hdr.KeyID == "" {
			return nil, errNoKeyID
		}
		if err := v.keys.Ensure(ctx, hdr.KeyID); err != nil {
			return nil, err
		}
	}
	tok, err := oidc.NewVerifier(issuerPrefix+projectID, v.keys, conf).Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errRejected, err)
	}
	if len(tok.Audience) != 1 {
		return nil, errAudience
	}
	var c tokenClaims
	if err := tok.Claims(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if !c.Expiry.set || !c.IssuedAt.set || !c.AuthTime.set {
		return nil, errMissingTime
	}
	late := now.Add(-v.leeway) // exp must be after this
	early := now.Add(v.leeway) // iat, auth_time, nbf must not be after this
	switch {
	case !c.Expiry.t.After(late):
		return nil, errExpired
	case c.IssuedAt.t.After(early):
		return nil, errIssuedInFuture
	case c.AuthTime.t.After(early):
		return nil, errAuthTimeInFuture
	case c.NotBefore.set && c.NotBefore.t.After(early):
		return nil, errNotYetValid
	}
	if !validSubject(c.Subject) {
		return nil, errSubject
	}
	return &c, nil
}

// validSubject reports whether s is a usable uid: 1 to 128 characters of valid UTF-8
// without control or space characters.
func validSubject(s string) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxSubjectLength {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

package oidc

import (
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/identitykit/identity/internal/jwks"
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

// keyOptions admit keys and tokens of every supported algorithm; the application's allowed
// algorithms are checked on the token before its signature.
var keyOptions = jwks.Options{Algorithms: signingAlgs}

// Reasons an ID token is refused.
var (
	errTokenMalformed  = jwks.ErrMalformed
	errTokenType       = errors.New("an access token (typ at+jwt), not an ID token")
	errTokenAlgorithm  = errors.New("signing algorithm not allowed")
	errTokenUnknownKey = jwks.ErrUnknownKey
	errTokenSignature  = jwks.ErrSignature
	errTokenIssuer     = errors.New("issuer does not match")
	errTokenAudience   = errors.New("audience names no allowed client id")
	errTokenExpired    = errors.New("token expired")
	errTokenClaims     = errors.New("token claims rejected")
	errTokenSubject    = errors.New("subject empty, too long or invalid")
)

// parsePublicKeys reads the PEM keys of an AppConfig (see jwks.ParsePEM).
func parsePublicKeys(pems []string) (jwks.Keys, error) {
	keys, err := jwks.ParsePEM(pems, keyOptions)
	var pe *jwks.PEMError
	if errors.As(err, &pe) {
		return keys, fmt.Errorf("oidc: public_keys[%d]: %v", pe.Index, pe.Err)
	}
	if err != nil {
		return keys, fmt.Errorf("oidc: public_keys: %v", err)
	}
	return keys, nil
}

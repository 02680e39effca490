package httpadapter

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sort"
	"strings"
)

// Signed session requests. Older ConnectyCube SDKs sign POST /session: the signature is the
// hex HMAC-SHA1 of every request parameter except "signature" itself, written "key=value"
// with raw (not URL-encoded) values and bracket keys for nested objects ("user[login]=john"),
// sorted and joined with "&", under the application's auth secret. The JavaScript SDK 3.x can
// use HMAC-SHA256 instead (64 hex digits). The JavaScript SDK sorts the "key=value" strings,
// the Flutter SDK sorts by key; the two orders differ only when one key is a prefix of
// another, and both are accepted. The timestamp window and the single use of (timestamp,
// nonce) are checked by identity (SessionRequest.Signed).

// signatureBase returns the string the SDKs sign (see above); byKey sorts by key (Flutter)
// rather than by the whole "key=value" string (JavaScript).
func signatureBase(params map[string]string, byKey bool) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "signature" {
			keys = append(keys, k)
		}
	}
	pairs := make([]string, len(keys))
	if byKey {
		sort.Strings(keys)
	}
	for i, k := range keys {
		pairs[i] = k + "=" + params[k]
	}
	if !byKey {
		sort.Strings(pairs)
	}
	return strings.Join(pairs, "&")
}

// verifySignature reports whether sig is the hex HMAC-SHA1 (or HMAC-SHA256, by length) of
// signatureBase(params) under secret, in either sort order. Comparison is constant-time.
func verifySignature(secret string, params map[string]string, sig string) bool {
	want, err := hex.DecodeString(strings.ToLower(sig))
	if err != nil {
		return false
	}
	var newHash func() hash.Hash
	switch len(want) {
	case sha1.Size:
		newHash = sha1.New
	case sha256.Size:
		newHash = sha256.New
	default:
		return false
	}
	mac := func(msg string) []byte {
		h := hmac.New(newHash, []byte(secret))
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	a := hmac.Equal(mac(signatureBase(params, false)), want)
	b := hmac.Equal(mac(signatureBase(params, true)), want)
	return a || b
}

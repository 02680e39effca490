package testutil

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"sort"
	"strings"
)

// SignSessionRequest signs a session request as the JavaScript ConnectyCube SDK does: the hex
// HMAC-SHA1, under secret, of params' "key=value" pairs (raw values, bracket keys for nested
// objects), sorted and joined with "&". Tests use it as the client's side of signing,
// independently of the adapter's verifier.
func SignSessionRequest(secret string, params map[string]string) string {
	pairs := make([]string, 0, len(params))
	for k, v := range params {
		if k != "signature" {
			pairs = append(pairs, k+"="+v)
		}
	}
	sort.Strings(pairs)
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(strings.Join(pairs, "&")))
	return hex.EncodeToString(m.Sum(nil))
}

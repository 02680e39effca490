package gormstore

import (
	"strings"

	"github.com/mtibben/confusables"
)

// loginSkeleton returns the confusable skeleton of a login key (identity.NormalizeLogin's
// result), stored in login_skeleton and unique per application, so that a login written in
// look-alike characters of another script (the Cyrillic "ѕсоре" for "scope") is taken.
//
// Each character outside ASCII is replaced by its prototype in the confusables data of
// Unicode Technical Standard #39 (through the skeleton algorithm), lower-cased as keys are;
// ASCII characters are kept as they are, so that ASCII logins that merely resemble each
// other ("user1" and "userl", "rn" and "m") can still coexist, as they always could.
func loginSkeleton(key string) string {
	ascii := true
	for i := 0; i < len(key) && ascii; i++ {
		ascii = key[i] < 0x80
	}
	if ascii {
		return key
	}
	var b strings.Builder
	for _, r := range key {
		if r < 0x80 {
			b.WriteRune(r)
			continue
		}
		b.WriteString(strings.ToLower(confusables.Skeleton(string(r))))
	}
	return b.String()
}

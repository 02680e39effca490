package httpadapter

import "testing"

// Vectors computed outside Go with:
//
//	printf '%s' 'application_id=1&auth_key=29WfrNWdvkhmX6V&nonce=111&timestamp=1544010993&user[login]=john&user[password]=11111111' | openssl dgst -sha1 -hmac 'Wb3sHXcYZaxFXTf'
func TestVerifySignatureVectors(t *testing.T) {
	user := map[string]string{
		"application_id": "1", "auth_key": "29WfrNWdvkhmX6V", "nonce": "111", "timestamp": "1544010993",
		"user[login]": "john", "user[password]": "11111111",
	}
	app := map[string]string{"application_id": "1", "auth_key": "29WfrNWdvkhmX6V", "nonce": "111", "timestamp": "1544010993"}
	raw := map[string]string{"application_id": "1", "auth_key": "k", "nonce": "5", "timestamp": "1544010993",
		"user[guest]": "1", "user[full_name]": "Jö & Co=1"}
	tests := []struct {
		name   string
		secret string
		params map[string]string
		sig    string
		want   bool
	}{
		{"sha1 user session", "Wb3sHXcYZaxFXTf", user, "355d4a4e7b5c1b88d4db5abbc3981501413e07cd", true},
		{"upper-case hex", "Wb3sHXcYZaxFXTf", user, "355D4A4E7B5C1B88D4DB5ABBC3981501413E07CD", true},
		{"sha1 app session", "Wb3sHXcYZaxFXTf", app, "a5b6fe12f76b6e4c385a1c6637586d9876b5607d", true},
		{"sha256 app session", "Wb3sHXcYZaxFXTf", app, "9518a16b7b01e8da7fb9b7458e88b766817388a5b43d7ee44571771130fa30a7", true},
		{"raw values, not url-encoded", "s3cr3t", raw, "9e65fa47b4cad6b878e831530f2f536e2e2e13f4", true},
		{"signature key itself is ignored", "Wb3sHXcYZaxFXTf", with(app, "signature", "zzz"), "a5b6fe12f76b6e4c385a1c6637586d9876b5607d", true},
		{"user params omitted from signed string", "Wb3sHXcYZaxFXTf", user, "a5b6fe12f76b6e4c385a1c6637586d9876b5607d", false},
		{"wrong secret", "other", app, "a5b6fe12f76b6e4c385a1c6637586d9876b5607d", false},
		{"tampered value", "Wb3sHXcYZaxFXTf", with(app, "nonce", "112"), "a5b6fe12f76b6e4c385a1c6637586d9876b5607d", false},
		{"not hex", "Wb3sHXcYZaxFXTf", app, "a5b6fe12f76b6e4c385a1c6637586d9876b5607z", false},
		{"wrong length", "Wb3sHXcYZaxFXTf", app, "a5b6fe12", false},
		{"empty", "Wb3sHXcYZaxFXTf", app, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verifySignature(tt.secret, tt.params, tt.sig); got != tt.want {
				t.Fatalf("VerifySignature = %v, want %v (base %q)", got, tt.want, signatureBase(tt.params, false))
			}
		})
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		if a != k {
			out[a] = b
		}
	}
	return out
}

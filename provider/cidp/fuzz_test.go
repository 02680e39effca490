package cidp

import (
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/identitykit/identity"
)

// FuzzBuildRequest checks that any client-supplied login and password either is refused as
// invalid input or reaches the identity service exactly as sent, in the query, the form, the
// JSON body and the headers, without ever splitting a header.
func FuzzBuildRequest(f *testing.F) {
	f.Add("tok", "pw")
	f.Add("a b&c=d+e%f\"g\\h/ü?#", "")
	f.Add("x\r\nX-Evil: 1", "\x00")
	f.Add("\xff\xfe", "}{")
	configs := []AppConfig{
		{Method: "GET", RequestParams: map[string]string{"t": "#{login}", "p": "#{password}"}},
		{Method: "POST", RequestParams: map[string]string{"t": "#{login}", "p": "#{password}"}},
		{Method: "POST", RequestFormat: "json", RequestParams: map[string]string{"t": "#{login}", "p": "#{password}"}},
		{RequestHeaders: map[string]string{"Authorization": "Bearer #{login}", "X-P": "#{password}"}},
	}
	var compiled []*compiledConfig
	for _, c := range configs {
		c.Endpoint = "https://idp.example.com/verify?k=v"
		c.ResponseParams = map[string]string{"uid": "#{uid}"}
		cc, err := c.compile()
		if err != nil {
			f.Fatal(err)
		}
		compiled = append(compiled, cc)
	}
	p, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, login, password string) {
		vars := map[string]string{"login": login, "token": login, "password": password}
		for i, cc := range compiled {
			req, err := p.buildRequest(cc, vars)
			if err != nil {
				if !errors.Is(err, identity.ErrInvalidInput) {
					t.Fatalf("config %d: err = %v, want ErrInvalidInput", i, err)
				}
				if i != 3 {
					t.Fatalf("config %d without headers refused input: %v", i, err)
				}
				continue
			}
			var got url.Values
			switch i {
			case 0:
				got = req.URL.Query()
				if got.Get("k") != "v" {
					t.Fatalf("endpoint query lost: %q", req.URL.RawQuery)
				}
			case 1:
				b, _ := io.ReadAll(req.Body)
				if got, err = url.ParseQuery(string(b)); err != nil {
					t.Fatalf("form %q: %v", b, err)
				}
			case 2:
				var m map[string]string
				b, _ := io.ReadAll(req.Body)
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatalf("JSON %q: %v", b, err)
				}
				got = url.Values{"t": {m["t"]}, "p": {m["p"]}}
			case 3:
				for k, vs := range req.Header {
					for _, v := range vs {
						if strings.ContainsAny(v, "\r\n\x00") {
							t.Fatalf("header %s carries a control character: %q", k, v)
						}
					}
				}
				if req.Header.Get("Authorization") != "Bearer "+login {
					t.Fatalf("Authorization %q, want the token", req.Header.Get("Authorization"))
				}
				continue
			}
			if i == 2 && (!validUTF8(login) || !validUTF8(password)) {
				continue // JSON replaces invalid UTF-8 with U+FFFD
			}
			if got.Get("t") != login || got.Get("p") != password {
				t.Fatalf("config %d: sent %v, want t=%q p=%q", i, got, login, password)
			}
		}
	})
}

func validUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

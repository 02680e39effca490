package httpadapter

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/identitykit/identity/ratelimit"
)

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		proxies []netip.Prefix
		header  string
		remote  string
		values  []string // header lines, in order
		want    string   // AddrKey of the client
	}{
		{"peer", nil, "", "203.0.113.9:1234", nil, "203.0.113.9"},
		{"headers ignored without proxies", nil, "", "203.0.113.9:1234", []string{"1.1.1.1"}, "203.0.113.9"},
		{"untrusted peer", proxies, "", "203.0.113.9:1234", []string{"1.1.1.1"}, "203.0.113.9"},
		{"trusted peer without header", proxies, "", "10.1.2.3:1234", nil, "10.1.2.3"},
		{"trusted peer", proxies, "", "10.1.2.3:1234", []string{"198.51.100.7"}, "198.51.100.7"},
		{"rightmost untrusted", proxies, "", "10.1.2.3:1234", []string{"1.1.1.1, 198.51.100.7, 10.9.9.9"}, "198.51.100.7"},
		{"several header lines", proxies, "", "10.1.2.3:1234", []string{"1.1.1.1, 198.51.100.7", "10.9.9.9"}, "198.51.100.7"},
		{"every hop trusted: the leftmost", proxies, "", "10.1.2.3:1234", []string{"10.5.5.5, 10.9.9.9"}, "10.5.5.5"},
		{"garbage stops at the last good hop", proxies, "", "10.1.2.3:1234", []string{"1.1.1.1, garbage, 10.9.9.9"}, "10.9.9.9"},
		{"unknown stops at the peer", proxies, "", "10.1.2.3:1234", []string{"1.1.1.1, unknown"}, "10.1.2.3"},
		{"empty entry stops", proxies, "", "10.1.2.3:1234", []string{"1.1.1.1,"}, "10.1.2.3"},
		{"ipv6 proxy and client /64", proxies, "", "[fd00::1]:443", []string{"2001:db8:a:b:c::1"}, "2001:db8:a:b::/64"},
		{"ports and brackets", proxies, "", "10.1.2.3:1", []string{"[2001:db8::5]:8080, 10.0.0.9:80"}, "2001:db8::/64"},
		{"ipv4-mapped", proxies, "", "[::ffff:10.1.2.3]:1", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{"zone dropped", nil, "", "[fe80::1%eth0]:1", nil, "fe80::/64"},
		{"unix socket peer without proxies", nil, "", "@", []string{"1.1.1.1"}, "unknown"},
		{"unix socket peer counts as a proxy", proxies, "", "@", []string{"198.51.100.7"}, "198.51.100.7"},
		{"Forwarded", proxies, "Forwarded", "10.1.2.3:1", []string{`for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::/64"},
		{"Forwarded obfuscated stops", proxies, "Forwarded", "10.1.2.3:1", []string{`for=198.51.100.7, for=_hidden`}, "10.1.2.3"},
		{"Forwarded without for", proxies, "Forwarded", "10.1.2.3:1", []string{`proto=https`}, "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimits(Config{TrustedProxies: tt.proxies, ClientAddrHeader: tt.header, InsecureNoRateLimit: true})
			r := httptest.NewRequest("POST", "/session", nil)
			r.RemoteAddr = tt.remote
			h := l.header
			for _, v := range tt.values {
				r.Header.Add(h, v)
			}
			if got := ratelimit.AddrKey(l.clientIP(r)); got != tt.want {
				t.Fatalf("client %q, want %q", got, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name        string
		kind        limitKind
		p           params
		wantAction  ratelimit.Action
		wantAccount string
	}{
		{"application session", limitSession, params{"application_id": "1", "auth_key": "k"}, ratelimit.ActionSession, ""},
		{"session login", limitSession, params{"user": params{"login": " John ", "password": "x"}}, ratelimit.ActionLogin, "login:john"},
		{"session email", limitSession, params{"user": params{"email": "A@B.example", "password": "x"}}, ratelimit.ActionLogin, "email:a@b.example"},
		{"login wins over email", limitSession, params{"user": params{"login": "j", "email": "a@b.example"}}, ratelimit.ActionLogin, "login:j"},
		{"guest", limitSession, params{"user": params{"guest": "1", "full_name": "G"}}, ratelimit.ActionLogin, ""},
		{"provider token", limitSession, params{"provider": "firebase_phone", "firebase_phone": params{"access_token": "t"}}, ratelimit.ActionLogin, ""},
		{"provider with a login", limitSession, params{"provider": "password", "user": params{"login": "j", "password": "x"}}, ratelimit.ActionLogin, "login:j"},
		{"non-string login", limitSession, params{"user": params{"login": params{"x": "y"}, "password": "x"}}, ratelimit.ActionLogin, ""},
		{"POST /login top level", limitLogin, params{"login": "J", "password": "x"}, ratelimit.ActionLogin, "login:j"},
		{"POST /login user object", limitLogin, params{"user": params{"email": "E@x.example", "password": "x"}}, ratelimit.ActionLogin, "email:e@x.example"},
		{"POST /login empty", limitLogin, params{}, ratelimit.ActionLogin, ""},
		{"sign-up", limitSignUp, params{"user": params{"login": "j"}}, ratelimit.ActionSignUp, ""},
		{"reset", limitReset, params{"email": " Bob@Example.com "}, ratelimit.ActionReset, "email:bob@example.com"},
		{"reset under user", limitReset, params{"user": params{"email": "bob@example.com"}}, ratelimit.ActionReset, "email:bob@example.com"},
		{"reset without email", limitReset, params{}, ratelimit.ActionReset, ""},
	}
	for _, tt := range tests {
		action, account := classify(tt.kind, tt.p)
		if action != tt.wantAction || account != tt.wantAccount {
			t.Errorf("%s: (%s, %q), want (%s, %q)", tt.name, action, account, tt.wantAction, tt.wantAccount)
		}
	}
}

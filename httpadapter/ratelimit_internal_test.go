package httpadapter

import (
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil/testenv"
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

// TestClassify checks what limited charges for each kind of request, and that a login or
// email naming a user is keyed on the user, whatever its spelling.
func TestClassify(t *testing.T) {
	ctx := t.Context()
	id, err := identity.New(identity.Config{Store: testenv.Store(t), Hasher: testenv.Passwords(t)})
	if err != nil {
		t.Fatal(err)
	}
	app, err := id.CreateApplication(ctx, "a", identity.AppSettings{})
	if err != nil {
		t.Fatal(err)
	}
	login, email, pw := "john", "john@b.example", "12345678"
	john, err := id.SignUp(ctx, app.ID, identity.UserInput{Login: &login, Email: &email, Password: &pw})
	if err != nil {
		t.Fatal(err)
	}
	h := &handler{id: id}
	johnKey := "user:" + strconv.FormatInt(john.ID, 10)
	appID := strconv.FormatInt(app.ID, 10)
	userSession := &identity.Session{ApplicationID: app.ID, UserID: 77, User: &identity.User{ID: 77}}
	guestSession := &identity.Session{ApplicationID: app.ID, UserID: 78, User: &identity.User{ID: 78, IsGuest: true}}
	tests := []struct {
		name          string
		kind          limitKind
		p             params
		s             *identity.Session
		wantAction    ratelimit.Action
		wantVolume    string
		wantAccount   string
		wantSkip      bool
		wantCreates   bool
		wantMayCreate bool
	}{
		{"application session", limitSession, params{"application_id": appID, "auth_key": "k"}, nil, ratelimit.ActionSession, "", "", false, false, false},
		{"session login", limitSession, params{"application_id": appID, "user": params{"login": " John ", "password": "x"}}, nil, ratelimit.ActionLogin, "", johnKey, false, false, true},
		{"session email of the same user", limitSession, params{"application_id": appID, "user": params{"email": "JOHN@B.example", "password": "x"}}, nil, ratelimit.ActionLogin, "", johnKey, false, false, true},
		{"unknown login", limitSession, params{"application_id": appID, "user": params{"login": " Ann ", "password": "x"}}, nil, ratelimit.ActionLogin, "", "login:" + appID + ":ann", false, false, true},
		{"unknown email", limitSession, params{"application_id": appID, "user": params{"email": "A@B.example", "password": "x"}}, nil, ratelimit.ActionLogin, "", "email:" + appID + ":a@b.example", false, false, true},
		{"login wins over email", limitSession, params{"application_id": appID, "user": params{"login": "j", "email": "john@b.example"}}, nil, ratelimit.ActionLogin, "", "login:" + appID + ":j", false, false, true},
		{"guest", limitSession, params{"user": params{"guest": "1", "full_name": "G"}}, nil, ratelimit.ActionLogin, "", "", false, false, true},
		{"provider token", limitSession, params{"provider": "firebase_phone", "firebase_phone": params{"access_token": "t"}}, nil, ratelimit.ActionLogin, "", "", false, false, true},
		{"provider with a login", limitSession, params{"application_id": appID, "provider": "password", "user": params{"login": "john", "password": "x"}}, nil, ratelimit.ActionLogin, "", johnKey, false, false, true},
		{"non-string login", limitSession, params{"user": params{"login": params{"x": "y"}, "password": "x"}}, nil, ratelimit.ActionLogin, "", "", false, false, true},
		{"POST /login top level", limitLogin, params{"login": "JOHN", "password": "x"}, userSession, ratelimit.ActionLogin, "", johnKey, false, false, true},
		{"POST /login user object", limitLogin, params{"user": params{"email": "E@x.example", "password": "x"}}, userSession, ratelimit.ActionLogin, "", "email:" + appID + ":e@x.example", false, false, true},
		{"POST /login empty", limitLogin, params{}, userSession, ratelimit.ActionLogin, "", "", false, false, true},
		{"sign-up", limitSignUp, params{"user": params{"login": "j"}}, nil, ratelimit.ActionSignUp, "", "", false, false, false},
		{"profile without password", limitProfile, params{"user": params{"full_name": "J"}}, userSession, "", "", "", true, false, false},
		{"password change", limitProfile, params{"user": params{"password": "x", "old_password": "y"}}, userSession, ratelimit.ActionLogin, "", "user:77", false, false, false},
		{"old password alone", limitProfile, params{"old_password": "y", "email": "n@x.example"}, userSession, ratelimit.ActionLogin, "", "user:77", false, false, false},
		{"guest upgrade", limitProfile, params{"user": params{"login": "g", "password": "x"}}, guestSession, ratelimit.ActionLogin, "", "user:78", false, true, false},
		{"reset", limitReset, params{"email": " Bob@Example.com "}, nil, ratelimit.ActionReset, "email:bob@example.com", "", false, false, false},
		{"reset under user", limitReset, params{"user": params{"email": "bob@example.com"}}, nil, ratelimit.ActionReset, "email:bob@example.com", "", false, false, false},
		{"reset without email", limitReset, params{}, nil, ratelimit.ActionReset, "", "", false, false, false},
	}
	for _, tt := range tests {
		r := h.classify(tt.kind, &call{p: tt.p, s: tt.s})
		if r.skip != tt.wantSkip {
			t.Errorf("%s: skip %v, want %v", tt.name, r.skip, tt.wantSkip)
			continue
		}
		if r.skip {
			continue
		}
		got := r.account(ctx)
		if r.action != tt.wantAction || r.volumeAccount != tt.wantVolume || got != tt.wantAccount || r.creates != tt.wantCreates || r.mayCreate != tt.wantMayCreate {
			t.Errorf("%s: (%s, %q, %q, creates %v, may create %v), want (%s, %q, %q, %v, %v)", tt.name,
				r.action, r.volumeAccount, got, r.creates, r.mayCreate, tt.wantAction, tt.wantVolume, tt.wantAccount, tt.wantCreates, tt.wantMayCreate)
		}
	}
}

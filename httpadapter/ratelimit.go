package httpadapter

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/netip"
	"strings"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/ratelimit"
)

// limitKind says which limits an endpoint is subject to (see limited).
type limitKind int

const (
	// limitSession: POST /session. With user credentials it is a login, without an
	// application session.
	limitSession limitKind = iota
	// limitLogin: POST /login, credentials at the top level or under "user".
	limitLogin
	// limitSignUp: POST /users.
	limitSignUp
	// limitReset: a password reset request; the account is the "email" parameter (top level
	// or under "user").
	limitReset
	// limitBlob: POST /blobs, the creation of a file; no account.
	limitBlob
)

// limits applies Config.RateLimit and finds client addresses.
type limits struct {
	// p is nil when rate limiting is off.
	p       *ratelimit.Policy
	proxies []netip.Prefix
	header  string
	// forwarded: header is the RFC 7239 Forwarded header.
	forwarded bool
}

const defaultClientAddrHeader = "X-Forwarded-For"

func newLimits(cfg Config) *limits {
	l := &limits{proxies: cfg.TrustedProxies, header: cfg.ClientAddrHeader}
	if l.header == "" {
		l.header = defaultClientAddrHeader
	}
	l.forwarded = strings.EqualFold(l.header, "Forwarded")
	switch {
	case cfg.InsecureNoRateLimit:
	case cfg.RateLimit != nil:
		l.p = cfg.RateLimit
	default:
		// The zero Config cannot fail.
		l.p, _ = ratelimit.New(ratelimit.Config{Logger: cfg.Logger})
	}
	return l
}

// limited wraps fn in the rate-limit policy for kind: the attempt is started (and, in the
// tarpit, delayed) before fn runs, and its outcome recorded from fn's error. A refused
// attempt is answered 429 {"errors":{"base":["Too many requests, retry later"]}} with
// Retry-After. Endpoints register through it in routes(), e.g.
//
//	h.handle("POST /users/password/reset", authIgnored, h.limited(limitReset, h.resetPassword))
func (h *handler) limited(kind limitKind, fn endpointFunc) endpointFunc {
	if h.lim == nil || h.lim.p == nil {
		return fn
	}
	return func(ctx context.Context, c *call) error {
		action, account := classify(kind, c.p)
		a, err := h.lim.p.Begin(ctx, action, h.clientAddr(c.r), account)
		if err != nil {
			return err
		}
		err = fn(ctx, c)
		a.Done(context.WithoutCancel(ctx), outcome(err))
		return err
	}
}

// clientAddr returns the rate-limit key of r's client address (ratelimit.AddrKey of
// clientIP): the value to pass where a client must be identified, e.g. as the client of
// identity.RequestPasswordReset.
func (h *handler) clientAddr(r *http.Request) string {
	return ratelimit.AddrKey(h.lim.clientIP(r))
}

// classify returns the action of a request to an endpoint of kind, and the account the
// attempt is for: "login:" or "email:" and the normalized login or email, or "" when the
// request names none (application sessions, guests, provider tokens).
func classify(kind limitKind, p params) (ratelimit.Action, string) {
	switch kind {
	case limitSession:
		creds := readCredentials(fieldErrs{}, p, p.object("user"))
		if creds == nil {
			return ratelimit.ActionSession, ""
		}
		return ratelimit.ActionLogin, accountOf(creds)
	case limitLogin:
		src := p
		if _, ok := p["login"]; !ok {
			if _, ok := p["email"]; !ok {
				if u := p.object("user"); u != nil {
					src = u
				}
			}
		}
		if creds := readCredentials(fieldErrs{}, p, src); creds != nil {
			return ratelimit.ActionLogin, accountOf(creds)
		}
		return ratelimit.ActionLogin, ""
	case limitSignUp:
		return ratelimit.ActionSignUp, ""
	case limitBlob:
		return ratelimit.ActionBlob, ""
	default:
		email, _ := asString(p["email"])
		if email == "" {
			email, _ = asString(userObject(p)["email"])
		}
		if email = identity.NormalizeEmail(email); email == "" {
			return ratelimit.ActionReset, ""
		}
		return ratelimit.ActionReset, "email:" + email
	}
}

// accountOf returns the account a login attempt is for. A login or email names it whatever
// the provider (the password provider can be named explicitly, and an application may route
// passwords to another provider), so that naming a provider does not escape the tarpit.
func accountOf(c *identity.Credentials) string {
	if l := identity.NormalizeLogin(c.Login); l != "" {
		return "login:" + l
	}
	if e := identity.NormalizeEmail(c.Email); e != "" {
		return "email:" + e
	}
	return ""
}

// outcome judges an attempt by the endpoint's error: only an invalid-credentials error is a
// failure; errors that prove nothing about the credentials (bad input, busy hasher,
// unavailable store) are given back.
func outcome(err error) ratelimit.Outcome {
	switch {
	case err == nil:
		return ratelimit.OutcomeSuccess
	case errors.Is(err, identity.ErrInvalidCredentials):
		return ratelimit.OutcomeFailure
	default:
		return ratelimit.OutcomeNone
	}
}

// limitRetryAfter returns the Retry-After seconds for err: a refused attempt's own delay (at
// least 1 s), otherwise def.
func limitRetryAfter(err error, def int) int {
	var le *ratelimit.LimitError
	if !errors.As(err, &le) {
		return def
	}
	return max(1, int(math.Ceil(le.RetryAfter.Seconds())))
}

// clientIP returns the address of the client of r. Without TrustedProxies it is the
// connection's peer, and headers are never consulted. When the peer is a trusted proxy (or
// has no IP address, as on a Unix socket, while TrustedProxies is set), the client
// address header is read from the right: each address is taken in turn, until one that is
// not a trusted proxy, which is the client. A malformed entry stops the walk at the last
// good one, so a client cannot choose its address by writing into the header; when every
// entry is a trusted proxy the leftmost is taken.
func (l *limits) clientIP(r *http.Request) netip.Addr {
	peer := parseHop(r.RemoteAddr)
	if len(l.proxies) == 0 || (peer.IsValid() && !l.trusted(peer)) {
		return peer
	}
	client := peer
	vals := r.Header.Values(l.header)
	for i := len(vals) - 1; i >= 0; i-- {
		v := vals[i]
		for v != "" {
			hop := v
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				v = ""
			}
			if l.forwarded {
				hop = forwardedFor(hop)
			}
			ip := parseHop(hop)
			if !ip.IsValid() {
				return client
			}
			client = ip
			if !l.trusted(ip) {
				return client
			}
		}
	}
	return client
}

func (l *limits) trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range l.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseHop parses an address as proxies and RemoteAddr write it: "1.2.3.4",
// "1.2.3.4:5678", "2001:db8::1", "[2001:db8::1]:443", optionally quoted. Anything else
// (including "unknown" and obfuscated identifiers) is the invalid Addr.
func parseHop(s string) netip.Addr {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// forwardedFor returns the for= value of one Forwarded element (RFC 7239), or "".
func forwardedFor(elem string) string {
	for _, pair := range strings.Split(elem, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
			return v
		}
	}
	return ""
}

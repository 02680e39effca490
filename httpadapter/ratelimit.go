package httpadapter

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/netip"
	"strconv"
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
	// limitProfile: PUT /users/{id}. A body with "password" or "old_password" guesses the
	// session user's password (a login volume, the failure budget and the tarpits of the
	// user), and a guest's upgrade creates an account (the sign-up volume); other updates are
	// not limited.
	limitProfile
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
//	h.handle("POST /users/password/reset", authIgnored, h.limited(limitReset, h.requestPasswordReset))
//
// The volume of the request's action is charged first; only then is the account a guess is
// for looked up (identity's AccountKey: the user a login or email names, so that every
// spelling of one account shares its tarpit), and its failure budget and tarpits charged.
// Requests that may create an account (a session or login with credentials) get a
// Credentials.BeforeCreate hook through call.beforeCreate, which charges the sign-up volume.
func (h *handler) limited(kind limitKind, fn endpointFunc) endpointFunc {
	if h.lim == nil || h.lim.p == nil {
		return fn
	}
	p := h.lim.p
	return func(ctx context.Context, c *call) error {
		req := h.classify(kind, c)
		if req.skip {
			return fn(ctx, c)
		}
		addr := h.clientAddr(c.r)
		a, err := p.Begin(ctx, req.action, addr, req.volumeAccount)
		if err != nil {
			return err
		}
		if req.creates {
			if _, err := p.Begin(ctx, ratelimit.ActionSignUp, addr, ""); err != nil {
				a.Done(context.WithoutCancel(ctx), ratelimit.OutcomeNone)
				return err
			}
		}
		var guess *ratelimit.Attempt
		if key := req.account(ctx); key != "" {
			if guess, err = p.BeginAccount(ctx, addr, key); err != nil {
				a.Done(context.WithoutCancel(ctx), ratelimit.OutcomeNone)
				return err
			}
		}
		if req.mayCreate {
			c.beforeCreate = func(ctx context.Context) error {
				_, err := p.Begin(ctx, ratelimit.ActionSignUp, addr, "")
				return err
			}
		}
		err = fn(ctx, c)
		o := outcome(err)
		a.Done(context.WithoutCancel(ctx), o)
		guess.Done(context.WithoutCancel(ctx), o)
		return err
	}
}

// clientAddr returns the rate-limit key of r's client address (ratelimit.AddrKey of
// clientIP): the value to pass where a client must be identified, e.g. as the client of
// passwordreset.Service.Request.
func (h *handler) clientAddr(r *http.Request) string {
	return ratelimit.AddrKey(h.lim.clientIP(r))
}

// limitReq is what limited charges for one request.
type limitReq struct {
	// skip: the request is not limited at all.
	skip bool
	// action is the volume charged, with volumeAccount (the email of a reset request).
	action        ratelimit.Action
	volumeAccount string
	// account returns the key of the account whose secret the request guesses ("": none).
	account func(ctx context.Context) string
	// creates: the request creates an account (a guest's upgrade): the sign-up volume is
	// charged up front. mayCreate: it may create one (credentials of a session or login):
	// the sign-up volume is charged if it does.
	creates, mayCreate bool
}

// classify returns what limited charges for a request to an endpoint of kind.
func (h *handler) classify(kind limitKind, c *call) limitReq {
	none := func(context.Context) string { return "" }
	p := c.p
	switch kind {
	case limitSession:
		creds := readCredentials(fieldErrs{}, p, p.object("user"))
		if creds == nil {
			return limitReq{action: ratelimit.ActionSession, account: none}
		}
		appID, _ := asInt64(p["application_id"])
		return limitReq{action: ratelimit.ActionLogin, account: h.credsAccount(appID, creds), mayCreate: true}
	case limitLogin:
		req := limitReq{action: ratelimit.ActionLogin, account: none, mayCreate: true}
		if creds := readCredentials(fieldErrs{}, p, loginSource(p)); creds != nil && c.s != nil {
			req.account = h.credsAccount(c.s.ApplicationID, creds)
		}
		return req
	case limitSignUp:
		return limitReq{action: ratelimit.ActionSignUp, account: none}
	case limitBlob:
		return limitReq{action: ratelimit.ActionBlob, account: none}
	case limitProfile:
		u := userObject(p)
		_, pw := u["password"]
		_, old := u["old_password"]
		if c.s == nil || c.s.UserID == 0 || (!pw && !old) {
			return limitReq{skip: true}
		}
		key := "user:" + strconv.FormatInt(c.s.UserID, 10)
		return limitReq{
			action:  ratelimit.ActionLogin,
			account: func(context.Context) string { return key },
			creates: pw && c.s.User != nil && c.s.User.IsGuest,
		}
	default:
		email, _ := asString(p["email"])
		if email == "" {
			email, _ = asString(userObject(p)["email"])
		}
		if email = identity.NormalizeEmail(email); email == "" {
			return limitReq{action: ratelimit.ActionReset, account: none}
		}
		return limitReq{action: ratelimit.ActionReset, volumeAccount: "email:" + email, account: none}
	}
}

// credsAccount returns the account key function of credentials presented to application
// appID: the account their login or email names, whatever the provider (the password
// provider can be named explicitly, and an application may route passwords to another
// provider), so that naming a provider does not escape the tarpit. Token credentials name
// no account: they cannot be guessed.
func (h *handler) credsAccount(appID int64, c *identity.Credentials) func(context.Context) string {
	return func(ctx context.Context) string {
		return h.id.AccountKey(ctx, appID, c.Login, c.Email)
	}
}

// outcome judges an attempt by the endpoint's error: only an invalid-credentials error is a
// failure; errors that prove nothing about the credentials (bad input, busy hasher,
// unavailable store) are given back.
func outcome(err error) ratelimit.Outcome {
	switch {
	case err == nil:
		return ratelimit.OutcomeSuccess
	case errors.Is(err, identity.ErrInvalidCredentials), errors.Is(err, identity.ErrWrongPassword):
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
	if !l.trustedPeer(peer) {
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

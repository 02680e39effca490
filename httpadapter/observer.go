package httpadapter

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/ratelimit"
)

// Observer is told what the handler serves, for metrics (package metrics implements it over
// Prometheus; see Config.Observer). Its methods run on the request's goroutine and must be
// quick and safe for concurrent use. What it is given holds no token, login, email or
// address.
type Observer interface {
	// ObserveRequest is called once per request New's handler answered, after the answer.
	ObserveRequest(RequestInfo)
	// ObserveLogin is called when a credential login ended: POST /session with user
	// credentials, POST /login. A request refused by the rate limits before its credentials
	// were read is not a login (the limiter's decisions are observed through
	// ratelimit.Config.Observe).
	ObserveLogin(LoginInfo)
	// ObserveSignUp is called when an account was created: by POST /users (provider
	// "password"), or by a login with provider (an automatic sign-up, a new guest, the first
	// login of an external account). Like LoginInfo.Provider, provider is the client's word.
	ObserveSignUp(provider string)
}

// RequestInfo describes one answered request.
type RequestInfo struct {
	// Method is the request's method as the client sent it.
	Method string
	// Route is the pattern of the endpoint that served the request, method included, with
	// wildcards and without the ".json" suffix: "GET /users/{id}" for GET /users/42.json.
	// It is "" when no endpoint served it: CORS preflights and other OPTIONS requests, and
	// paths or methods no endpoint has (404, 405).
	Route string
	// Status is the response status.
	Status int
	// Duration is the time from the request reaching the handler to the end of the answer.
	Duration time.Duration
}

// LoginOutcome says how a login ended.
type LoginOutcome string

const (
	// LoginSuccess: the client got a user session.
	LoginSuccess LoginOutcome = "success"
	// LoginFailure: the credentials were wrong (what the rate limits count as a failed
	// guess).
	LoginFailure LoginOutcome = "failure"
	// LoginError: any other refusal: bad input, an unknown provider or application, a
	// blocked user, a busy hasher, an unavailable store.
	LoginError LoginOutcome = "error"
)

// LoginInfo describes one login.
type LoginInfo struct {
	// Provider is the provider the client asked for: the "provider" parameter, or "guest"
	// for a guest request and "password" for a login or email with a password. It is the
	// client's word, not checked against the configured providers: check it before using it
	// as a metric label.
	Provider string
	// Outcome is how the login ended.
	Outcome LoginOutcome
}

// observeRequest reports a request answered through rw, started at start.
func (h *handler) observeRequest(rw *respWriter, r *http.Request, start time.Time) {
	status := rw.status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
	}
	h.obs.ObserveRequest(RequestInfo{
		Method:   r.Method,
		Route:    strings.TrimSuffix(rw.route, ".json"),
		Status:   status,
		Duration: time.Since(start),
	})
}

// watchCreate makes creds (when not nil and observed) record whether the Identity creates an
// account for them, through their BeforeCreate; the result is read by observeLogin.
func (h *handler) watchCreate(creds *identity.Credentials) *bool {
	if h.obs == nil || creds == nil {
		return nil
	}
	created := new(bool)
	before := creds.BeforeCreate
	creds.BeforeCreate = func(ctx context.Context) error {
		if before != nil {
			if err := before(ctx); err != nil {
				return err
			}
		}
		*created = true
		return nil
	}
	return created
}

// observeLogin reports a login with creds that ended with err; created is what watchCreate
// returned for them.
func (h *handler) observeLogin(creds *identity.Credentials, err error, created *bool) {
	if h.obs == nil || creds == nil {
		return
	}
	provider := creds.Provider
	switch {
	case provider != "":
	case creds.Guest:
		provider = "guest"
	default:
		provider = "password"
	}
	info := LoginInfo{Provider: provider, Outcome: LoginSuccess}
	switch {
	case err == nil:
	case outcome(err) == ratelimit.OutcomeFailure:
		info.Outcome = LoginFailure
	default:
		info.Outcome = LoginError
	}
	h.obs.ObserveLogin(info)
	if err == nil && created != nil && *created {
		h.obs.ObserveSignUp(provider)
	}
}

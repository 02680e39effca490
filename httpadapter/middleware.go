package httpadapter

import (
	"context"
	"net/http"

	"github.com/identitykit/identity"
)

type sessionKey struct{}

// Middleware returns middleware for an application's own routes: it validates the session
// token of each request (the CB-Token header, or "Authorization: Bearer <token>"), which
// extends the session like any API request, sets CB-Token-ExpirationDate on the response and
// passes the session to next in the request context (see SessionFromContext and
// UserFromContext). A missing, unknown or expired token is answered 401
// {"errors":{"base":["Required session does not exist"]}} without calling next. Application
// sessions pass too; a handler that needs a user checks UserFromContext. Only cfg.Logger is
// used.
func Middleware(id *identity.Identity, cfg Config) func(http.Handler) http.Handler {
	if id == nil {
		panic("httpadapter: Middleware called with a nil *identity.Identity")
	}
	log := cfg.withDefaults().Logger
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := id.Validate(r.Context(), requestToken(r))
			if err != nil {
				writeError(w, r, log, err)
				return
			}
			setExpiration(w, s)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
		})
	}
}

// SessionFromContext returns the session Middleware validated for the request.
func SessionFromContext(ctx context.Context) (*identity.Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(*identity.Session)
	return s, ok && s != nil
}

// UserFromContext returns the user of the session Middleware validated for the request; ok
// is false without a session and for an application session.
func UserFromContext(ctx context.Context) (*identity.User, bool) {
	s, ok := SessionFromContext(ctx)
	if !ok || s.UserID == 0 || s.User == nil {
		return nil, false
	}
	return s.User, true
}

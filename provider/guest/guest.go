// Package guest is the provider of guest users: a session request with guest "1" and an
// optional full name creates a user with login "guest_login_<hex>" and is_guest true, whose
// session and account live for the application's GuestLifetime (default 24 h). A guest
// cannot log in with a password; it can become a regular account, keeping its id, by
// updating its profile with a login or email and a password.
package guest

import (
	"context"
	"strings"

	"github.com/identitykit/identity"
)

// Config configures the guest provider. It has no settings yet; it exists so that every
// provider is built the same way, New(Config{...}).
type Config struct{}

// Provider is the "guest" provider. Safe for concurrent use.
type Provider struct{}

var _ identity.Provider = (*Provider)(nil)

// New returns the guest provider. It never fails today.
func New(Config) (*Provider, error) { return &Provider{}, nil }

// Name returns "guest".
func (*Provider) Name() string { return "guest" }

// Authenticate returns Guest claims carrying the requested full name.
func (*Provider) Authenticate(_ context.Context, req *identity.AuthRequest) (*identity.Claims, error) {
	c := &identity.Claims{Guest: true}
	if fn := strings.TrimSpace(req.Credentials.FullName); fn != "" {
		c.Profile.FullName = &fn
	}
	return c, nil
}

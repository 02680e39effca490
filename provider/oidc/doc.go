// Package oidc is the provider of OpenID Connect ID tokens from a configured issuer (Auth0,
// Keycloak, Cognito, Google, ...), checked locally against the issuer's keys.
//
// New returns the provider named "oidc" (Config.Name); pass it to identity.New in
// Config.Providers. An application stores an AppConfig in AppSettings.Providers["oidc"]
// (Provider.Enable): the issuer, the client ids the token's audience must name, the allowed
// signing algorithms and where the keys come from (discovery of the issuer's
// /.well-known/openid-configuration, a JWKS URL, or PEM public keys):
//
//	p, _ := oidc.New(oidc.Config{})
//	id, _ := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw, p}})
//	var s identity.AppSettings
//	err := p.Enable(&s, oidc.AppConfig{Issuer: "https://tenant.eu.auth0.com/", ClientID: "web-client-id"})
//	app, _ := id.CreateApplication(ctx, "my app", s)
//
// A client sends the ID token as keys[token] with provider=oidc, or as the login when the
// application's PasswordProvider is "oidc". The token's signature, issuer, audience, expiry
// and algorithm are checked locally (never HMAC or "none"); uid is the "sub" claim and other
// user fields come from the claims the configuration maps (by default email, when not
// marked unverified, and name). The first sign-in creates a user without a password, linked
// to (provider, sub); later sign-ins find it and refresh the mapped fields. A mapped login
// or email that another user already has is never merged: the sign-in fails with
// ErrUserExists naming the field.
//
// Users of this provider have no password. A chat server checks "user id + session token"
// with identity.Identity.AuthenticateUserToken.
//
// # Error codes
//
// A refused ID token wraps identity.ErrInvalidCredentials with Field "id_token" and code
// "invalid" or "expired"; "disabled" on Field "oidc" (identity.ErrDisabled) means the
// application has no OIDC settings; a mapped claim without a usable value is "bad_mapping".
package oidc

// Package cidp authenticates users against a Custom Identity Provider: an HTTP verification
// service of your own, configured per application the way the ConnectyCube dashboard
// configures it. (OpenID Connect ID tokens are package provider/oidc.)
//
// # Custom Identity Provider
//
// New returns the provider named "cidp"; pass it to identity.New in Config.Providers. An
// application enables it by storing an AppConfig as JSON in AppSettings.Providers["cidp"]
// and routes login/password credentials to it by setting AppSettings.PasswordProvider to
// "cidp", as ConnectyCube does when CIdP is enabled; Provider.Enable does both:
//
//	p, _ := cidp.New(cidp.Config{})
//	id, _ := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw, p}})
//	var s identity.AppSettings
//	err := p.Enable(&s, cidp.AppConfig{
//		Endpoint:       "https://idp.example.com/verify",
//		RequestParams:  map[string]string{"token": "#{login}"},
//		ResponseParams: map[string]string{"uid": "#{user.id}", "email": "#{user.email}"},
//	})
//	app, _ := id.CreateApplication(ctx, "my app", s)
//
// Clients then log in exactly as the ConnectyCube documentation says:
//
//	POST /login    {"login": "<external token>", "password": "<any value>"}
//	POST /session  {..., "user": {"login": "<external token>"}}
//
// or name the provider: POST /session with provider=cidp and keys[token]=<external token>.
//
// For each login the provider calls the application's endpoint with the configured headers
// and parameters, #{login} (and #{token}) replaced by the external token and #{password} by
// the password. A 2xx JSON answer is mapped to user fields by the application's
// response_params; "uid" is required. The first successful login creates a user without a
// password, linked to (provider, uid); later logins find that user by the uid and refresh the
// mapped fields. A mapped login or email that another user already has is never merged: the
// login fails with ErrUserExists naming the field.
//
// Failures follow ConnectyCube: a non-2xx answer is identity.ErrRejectedByProvider (a child
// of ErrInvalidCredentials) with the flat message "Bad Authentication data. Unauthorized on
// remote side. Status: 401.", which the HTTP adapter sends as 422 {"errors":["..."]}.
// ConnectyCube appends the service's answer ("...Status: 401.Response \"...\""); this
// provider does not, since the body may name internal hosts or echo secrets the redaction
// does not know: it goes to Config.Logger at debug level only, its first 512 bytes with the
// token, the password and the configured header, parameter and endpoint query values
// replaced by "[FILTERED]". An answer without uid is
// ErrRejectedByProvider with the field message that the adapter sends as 422
// {"errors":{"base":["Custom Identity Provider uid is required"]}}. A timeout (Config.Timeout,
// 5 s), an unreachable service, an answer larger than Config.MaxResponseBytes (1 MiB) or
// one that is not JSON wrap ErrUnavailable (503). Redirects are followed only to the same
// scheme and host. The token and the password never appear in an error message or a log
// line: the request URL, which holds the token for GET, is never repeated, and no answer
// body is quoted in an error.
//
// The endpoint is trusted configuration: whoever may edit an application's settings may make
// the server send requests to any URL. Restrict that to operators, or give Config.Client a
// Transport that only dials the hosts you allow.
//
// # Connect to chat
//
// Users of this provider have no password. A chat server or websocket gateway that
// accepts ConnectyCube-style chat logins (user id + the session token as the password)
// checks them with identity.Identity.AuthenticateUserToken; examples/chat shows a gateway
// doing so.
//
// # Error codes
//
// Besides the core's codes (identity.FieldError), a refusal wraps
// identity.ErrRejectedByProvider with: Field "" and code "remote_refused" with the service's
// HTTP status as Limit; Field "uid" with "blank" (no uid in the answer) or "too_long"; a
// mapped user field with "bad_mapping" (its template found no usable value). "disabled" on
// Field "cidp" (identity.ErrDisabled) means the application has no CIdP settings.
package cidp

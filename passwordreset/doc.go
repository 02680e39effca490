// Package passwordreset lets the users of an identity.Identity choose a new password through a
// link mailed to them. It is built on the Identity: it looks applications and users up and
// sets the password through the core (identity.Operator.UpdateUser, which applies the
// application's password policy, hashes the password and revokes the user's sessions), and it
// takes part in the core's work through the hooks it registers (identity.Identity.AddHooks).
//
// # Flow
//
// Service.Request (the ConnectyCube request GET/POST /users/password/reset) checks the address
// and the rate limits and only queues the request; it returns nil whether or not a user has
// that address, so a caller answers both alike, and the request path reads no user. A
// worker then finds the user by email, stores a new token for the user (replacing any earlier
// one), and mails Config.LinkURL with "token=<64 hex characters>" added to its query. Users
// without a password (guests, users of external providers) get no mail. Service.Check tells
// the reset page whose token it is (the application's name and the user's email);
// Service.Reset sets the new password with it.
//
// # Tokens
//
// A token carries 256 bits from crypto/rand and is only ever in the link; the TokenStore
// keeps its SHA-256 (identity.HashToken), the user, and the address it was mailed to. A token
// works once (using it is one atomic delete; of concurrent submits exactly one succeeds), for
// Config.Lifetime (1 h), and not after a newer request, a change of the user's password (by a
// reset, by the user, by the operator) or a change of the user's email. A password the
// application's policy refuses leaves the token usable. identity.Identity.DeleteExpired
// purges expired tokens; store/gormstore deletes a user's tokens with the user and an
// application's with the application.
//
// # Limits
//
// Requests are limited per application and address (Config.PerEmail: 3 at once, then one
// every 10 minutes) and per client (Config.PerClient: 20, then one a minute); a request over
// a limit returns nil and sends nothing. The buckets live in this process's memory unless
// Config.Limiter shares them (ratelimit.ForReset over a ratelimit/redislimit.Limiter serves
// every instance of a server); when that limiter fails, the in-memory buckets apply. Mail
// goes out through Config.Workers goroutines with a bounded queue (identity.ErrBusy when it
// is full); the requests for one address always go to the same worker, in order, so the last
// mail a user receives carries the link that works. identity.Identity.Shutdown stops the
// workers after sending what is queued, within its context.
//
// # Mail templates
//
// The message is an identity.EmailTemplate: a text/template subject (folded onto one line)
// and text, and an html/template HTML part, executed with the application's name, the user's
// email and login, the link, its lifetime in words and its expiry. Each field comes from the
// application's identity.AppSettings.ResetEmail (validated by the core when the application
// is stored), else from Config.Email, else from the built-in English message. With a Mailer,
// a change of a user's email also sends a short notice to the old address (not naming the
// new one).
//
// # Wiring
//
// Create the Identity, then the Service over the same store, and give the Service to the
// HTTP adapter, which serves the request endpoint and the reset page at "/password_reset"
// (the page Config.LinkURL must point at):
//
//	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: providers})
//	reset, err := passwordreset.New(id, passwordreset.Config{
//		Store:   st,
//		Mailer:  mailer, // mail/smtp
//		LinkURL: "https://api.example.com/password_reset",
//	})
//	api := httpadapter.New(id, httpadapter.Config{Reset: reset})
//	defer id.Shutdown(context.Background()) // sends the mail still queued
//
// A Service without a Mailer sends nothing (Request returns identity.ErrDisabled) but still
// checks and uses links, for a process that serves only the reset page.
package passwordreset

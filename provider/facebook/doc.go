// Package facebook provides the "facebook" provider: sign-in with a Facebook user access
// token, as ConnectyCube clients send it:
//
//	POST /session  {..., "provider": "facebook", "keys": {"token": "<user access token>"}}
//	POST /login    {"provider": "facebook", "keys": {"token": "<user access token>"}}
//
// (form bodies too: provider=facebook&keys[token]=...). The client gets the token from the
// Facebook SDK's login.
//
// # Settings
//
// New returns the provider; pass it to identity.New in Config.Providers. An application
// accepts facebook sign-ins once its settings hold its Facebook app's id and secret, stored
// as JSON in AppSettings.Providers["facebook"]; Provider.Enable validates and stores them:
//
//	fb, _ := facebook.New(facebook.Config{})
//	err := fb.Enable(&settings, facebook.AppConfig{AppID: "1234567890", AppSecret: secret})
//
// Config.GraphURL (default DefaultGraphURL, a versioned Graph API base) is where the two
// calls below go; Config.Timeout (5 s) bounds each call and Config.MaxResponseBytes (64 KiB)
// each answer.
//
// # Flow
//
// Every sign-in makes two Graph API calls:
//
//  1. debug_token, with the app access token "<app id>|<app secret>": the token must be
//     valid (data.is_valid), issued for this application's app (data.app_id equals
//     AppConfig.AppID: a token the user gave another app is refused), a user token, and
//     unexpired (data.expires_at is 0 for tokens that do not expire, or after now, on the
//     Identity's clock or Config.Now).
//  2. /me?fields=id,name,email with the token and appsecret_proof (the hex HMAC-SHA256 of
//     the token keyed by the app secret); the id must be data.user_id of step 1.
//
// The Facebook user id is the external account: the first sign-in creates a user linked to
// (facebook, id), with facebook_id set to the id, full_name to the name (left out when over
// 200 characters) and email to the account's email when one is given and no user of the
// application has it; every later sign-in with that id returns that user, whatever the name
// or email then are (the profile is not refreshed).
//
// Identity never merges a Facebook account into an existing user by email: when another
// user of the application already has the account's email, for example a password user who
// signed up with it, the new user is created without an email, and the existing user is
// untouched. So nobody can take over an account by adding its email to a Facebook account,
// and nobody can keep a Facebook user out by registering their email first. (Should
// another user take the email between the check and the creation, the sign-in fails with
// ErrUserExists on "email" and nothing is created.)
//
// # Errors
//
//   - The application has no facebook settings: an *identity.Error wrapping
//     identity.ErrDisabled, Field "facebook", code "disabled" (the HTTP adapter answers 403
//     "Facebook is not enabled for this application").
//   - No keys[token]: identity.ErrInvalidInput, Field "keys[token]", code "missing" (422
//     "Bad Authentication data. Invalid input parameters provided: no 'keys[token]'
//     parameter provided"); a token over MaxTokenBytes: code "too_long".
//   - A token the Graph API does not accept (invalid, revoked, expired, another app's, not a
//     user's, a /me that names another user, any 4xx): an error wrapping
//     identity.ErrInvalidCredentials whose text is only "facebook: invalid credentials" (401
//     "Unauthorized", as for a wrong password); errors.Is tells the reason (ErrTokenInvalid,
//     ErrForeignApp, ErrTokenExpired, ErrNotUserToken, ErrUserMismatch, ErrTokenRefused).
//   - The Graph API failing (5xx, 429, no answer within the timeout, an answer over the size
//     bound or not JSON): identity.ErrUnavailable (503).
//
// The Graph API's error text never reaches the client: it goes to Config.Logger, at debug
// level for refusals (warn when debug_token itself is refused, which may mean a wrong app
// id or secret) and warn for failures, with the token, the app secret and the proof
// replaced by "[FILTERED]". No request URL is logged (it holds the token).
package facebook

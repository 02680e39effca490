// Package twitter provides the "twitter" provider: sign-in with a Twitter (X) OAuth 1.0a
// access token and token secret, as ConnectyCube clients send them:
//
//	POST /session  {..., "provider": "twitter", "keys": {"token": "...", "secret": "..."}}
//	POST /login    {"provider": "twitter", "keys": {"token": "...", "secret": "..."}}
//
// (form bodies too: provider=twitter&keys[token]=...&keys[secret]=...). The client gets the
// pair from Twitter's OAuth 1.0a sign-in through the application's Twitter app.
//
// # Settings
//
// New returns the provider; pass it to identity.New in Config.Providers. An application
// accepts twitter sign-ins once its settings hold the Twitter app's API key and secret (the
// OAuth consumer key and secret), stored as JSON in AppSettings.Providers["twitter"];
// Provider.Enable validates and stores them:
//
//	tw, _ := twitter.New(twitter.Config{})
//	err := tw.Enable(&settings, twitter.AppConfig{ConsumerKey: key, ConsumerSecret: secret})
//
// Config.APIURL (default DefaultAPIURL) is the API base; Config.Timeout (5 s) bounds the call
// and Config.MaxResponseBytes (64 KiB) its answer.
//
// # Flow
//
// Every sign-in makes one call: GET account/verify_credentials.json, signed with OAuth 1.0a
// HMAC-SHA1 by the consumer secret and the token secret (the signature proves the client
// holds the secret; Twitter accepts it only for a token issued through this consumer key).
// The answer's id_str is the external account: the first sign-in creates a user linked to
// (twitter, id_str), with twitter_id set to it and full_name to the account's name (left out
// when over 200 characters); every later sign-in with that id returns that user (the
// profile is not refreshed). No email is read, so no existing account can be reached by
// email.
//
// # Errors
//
//   - The application has no twitter settings: an *identity.Error wrapping
//     identity.ErrDisabled, Field "twitter", code "disabled" (the HTTP adapter answers 403
//     "Twitter is not enabled for this application").
//   - No keys[token] or keys[secret]: identity.ErrInvalidInput with code "missing" on each
//     missing one (422 "Bad Authentication data. Invalid input parameters provided: no
//     'keys[token]' and 'keys[secret]' parameters provided"); one over MaxTokenBytes:
//     "too_long".
//   - The API refusing the request (401 for an invalid, revoked or foreign token or a wrong
//     secret; any other 4xx but 429): an error wrapping identity.ErrInvalidCredentials and
//     ErrTokenRefused whose text is only "twitter: invalid credentials" (401 "Unauthorized").
//   - The API failing (5xx, 429, no answer within the timeout, an answer over the size bound
//     or without a numeric id_str): identity.ErrUnavailable (503).
//
// The API's error text never reaches the client: it goes to Config.Logger (debug for
// refusals, warn for failures) with the token, the token secret and the consumer secret
// replaced by "[FILTERED]".
package twitter

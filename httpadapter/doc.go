// Package httpadapter serves the ConnectyCube REST endpoints for sessions and users over an
// *identity.Identity, so that the official ConnectyCube SDKs work against it unmodified.
//
// New returns a plain net/http handler rooted at "/". Mount it where you like:
//
//	mux.Handle("/auth/", http.StripPrefix("/auth", httpadapter.New(id, httpadapter.Config{})))
//	r.Mount("/auth", http.StripPrefix("/auth", httpadapter.New(id, cfg))) // chi keeps the full path
//
// and point the SDK at it (JavaScript: endpoints.api_url = "https://example.com/auth").
// Middleware authenticates the same tokens for an application's own routes and puts the
// session in the request context (SessionFromContext, UserFromContext).
//
// # Endpoints
//
// Every path also answers with a ".json" suffix (the JavaScript SDK appends it).
//
//	POST   /session                 create an application, user or guest session   201 {"session":{...}}
//	GET    /session                 the current session                            200 {"session":{...}}
//	DELETE /session                 end the current session                        200, empty
//	DELETE /session/{id}            end one session of the current user            200, empty
//	DELETE /session/list            end every other session of the current user    200, empty
//	POST   /login                   turn an application session into a user one    202 {"user":{...}}
//	DELETE /login                   turn it back into an application session       200, empty
//	POST   /users                   sign up (CB-Token, or CB-AuthKey alone)        201 {"user":{...}}
//	GET    /users/{id}              a user of the session's application            200 {"user":{...}}
//	PUT    /users/{id}              update one's own profile or password           200 {"user":{...}}
//	DELETE /users/{id}              delete one's own account                       200, empty
//	DELETE /users/external/{id}     the same, by the deprecated external_user_id   200, empty
//	GET    /users/v2                search users (see User retrieval)              200 {"limit","skip","total_entries","items"}
//	GET    /users                   V1 list: filter[], order, external_user_id     200 {"current_page","per_page","total_entries","items"}
//	GET    /users/by_full_name      V1 list by exact full_name                     200 V1 list
//	GET    /users/by_tags           V1 list having any of tags (tags[]= or a,b)    200 V1 list
//	GET    /users/by_login          V1 lookup (also by_email, by_facebook_id,      200 {"user":{...}}, 404
//	                                by_twitter_id, phone, by_phone)
//	GET    /users/external/{id}     V1 lookup by the deprecated external_user_id   200 {"user":{...}}, 404
//	POST   /blobs                   create a file and its upload URL (see Blobs)   201 {"blob":{...}}
//	POST   /blobs/upload            the upload URL: multipart, grant then file     201 {"blob":{...}}
//	PUT    /blobs/{id}/complete     declare the upload complete: {"size":N}        200, empty
//	GET    /blobs/{id}              a file's metadata (numeric id)                 200 {"blob":{...}}
//	GET    /blobs/{uid}             a file's bytes (?token=...; public: none)      200, the file
//	DELETE /blobs/{id}              delete one's own file and its bytes            200, empty
//	POST   /users/password/reset    mail a reset link: {"email":...} (see Password reset)  200, empty
//	GET    /users/password/reset    the same, ?email=...                           200, empty
//	GET    /password_reset          the reset page the mailed link opens (HTML)    200, 410
//	POST   /password_reset          set the new password from that page (HTML)     200, 422, 410
//
// POST /session accepts application_id (number or string), auth_key, optional timestamp,
// nonce and signature (verified when present; see the identity package; when absent and the
// application has RequireSignature, 422 {"errors":["Unexpected signature"]}), and the user
// credentials: user[login] or user[email] with user[password]; user[guest]=1 with
// user[full_name]; or provider with keys[token] and keys[secret] (social providers) or the
// object named after the provider (firebase_phone[project_id], firebase_phone[access_token],
// and the same for firebase_email), which reach the provider as identity.Credentials.Params
// without the prefix ("token", "secret", "project_id", "access_token"). The signed string is
// built from every parameter except signature, flattened to bracket keys with raw values.
// POST /login takes the same credentials at the top level ({"login":..,"password":..},
// {"provider":..,"firebase_phone":{..}}) or under "user". Any CB-Token sent with POST /session
// is ignored: SDKs send stale ones.
//
// # Request decoding
//
// One decoder serves every endpoint. The query string and the body are merged (body keys
// win); bodies may be JSON (Content-Type application/json or *+json) or
// application/x-www-form-urlencoded, and a body with another Content-Type is read as JSON if
// it starts with '{' and as a form otherwise (multipart is refused). Rails bracket keys work
// in forms, query strings and as literal keys inside JSON objects: user[login]=x,
// id[in][]=1&id[in][]=2, {"firebase_phone[project_id]":"p"}. '+' and %20 are spaces and
// percent escapes may be lower-case. Numbers may be JSON numbers or numeric strings; booleans
// may be true, 1, "1" or "true". Limits: Config.MaxBodyBytes (1 MiB: 413 beyond), 32 levels
// of nesting and 10 000 values per request (400 beyond). A malformed body or query, or a key
// used both as a value and as an object (user=1&user[login]=x), is 400
// {"errors":["Bad request: <what>"]}. A parameter of the wrong shape (an object where a
// string is expected) is a 422 naming the field.
//
// # Responses
//
// The session object is {"id","user_id","application_id","token","nonce","ts","created_at",
// "updated_at","user"}: user_id is null and user is absent for an application session (on
// POST and on GET /session alike); nonce is present when the client sent one, as a number
// when it is numeric; ts echoes the client's timestamp (the server time without one); times
// are ISO-8601 UTC with milliseconds. The user object carries every field of the
// ConnectyCube user model, null when empty, in the key order production uses (_id, id,
// created_at, updated_at, last_request_at, login, email, full_name, phone, custom_data,
// avatar, external_id, timezone, website, twitter_id, external_user_id, facebook_id, blob_id,
// user_tags, is_guest); times are ISO-8601 UTC in seconds; user_tags is a comma-joined string;
// is_guest is true or null; the password is never returned. On input tag_list may be a list
// or a comma-joined string, and custom_data given as an object is stored as its JSON text.
//
// CB-Token-ExpirationDate ("yyyy-MM-dd HH:mm:ss UTC") is set on every response to a request
// whose token was valid and on every session-creating response. It is the session's expiry
// after this request: the idle lifetime (2 h by default) from now, or the absolute limit if
// sooner. Responses that end the token (DELETE /session, revoking one's own session,
// deleting one's own account) do not carry it.
//
// # Errors
//
// One table (errors.go) maps errors to statuses and ConnectyCube error bodies. The core's
// errors carry a code per field (identity.FieldError); wire_errors.go words each code as
// ConnectyCube does ("taken" → "has already been taken", "too_short" with Limit 8 → "is too
// short (minimum is 8 characters)"), and a code it does not know reads "is invalid". Messages
// the adapter finds itself (a parameter it cannot parse) are worded where they are found.
//
//	401 {"errors":{"base":["Required session does not exist"]}}  missing, unknown or expired token
//	403 {"errors":{"base":["Forbidden. Need user."]}}            application session on a user-only action
//	403 {"errors":{"base":["Forbidden. Users may only act on their own account."]}}
//	403 {"errors":{"base":["Users retrieving forbidden in admin panel, ..."]}}  retrieval off by an application setting
//	401 {"errors":["Unauthorized"]}                              wrong password and unknown user alike
//	422 {"errors":["Bad Authentication data. Unauthorized on remote side. Status: 401."]}
//	                                                             a remote identity service (CIdP) refused: its status, never its body
//	401 {"errors":["Unknown application or invalid auth key"]}   POST /session, POST /users with CB-AuthKey
//	422 {"errors":["Unexpected signature"]}                      bad HMAC, or none where required
//	422 {"errors":{"timestamp":["is invalid"]}}                  signed timestamp outside the window
//	422 {"errors":{"nonce":["has already been used"]}}           replayed signed request
//	422 {"errors":{"login":["has already been taken"]}}          validation, keyed by field
//	422 {"errors":["..."]}                                       provider messages about the whole request
//	404 {"errors":["User not found"]}, {"errors":["Not found"]}  unknown user, session or path
//	405 {"errors":["Method not allowed"]}
//	403 {"errors":{"base":["Upload grant has expired"]}}         upload grant missing, invalid, expired, used, or another user's
//	413 {"errors":["Request entity too large"]}
//	413 {"errors":{"file":["is too large (maximum is N bytes)"]}}  an upload over the file size limit
//	400 {"errors":["Bad request: ..."]}                          undecodable body or query
//	429 {"errors":{"base":["Too many requests, retry later"]}}   a rate limit refused (see Rate limits); Retry-After
//	503 {"errors":["Server busy, retry later"]}                  password hashing saturated; Retry-After: 1
//	503 {"errors":["Service temporarily unavailable, retry later"]}  database or remote service down; Retry-After: 5
//	500 {"errors":{"base":["Internal Server Error"]}}            anything else: the cause is logged, never sent
//
// Panics in handlers are recovered, logged with their stack and answered 500.
//
// # Blobs
//
// File storage (Config.Blobs, a blob.Service built on the handler's Identity; off without
// it: the blob endpoints answer 403 {"errors":["File storage is not configured on this
// server"]}) serves the SDKs' avatar flow: storage.createAndUpload, users.update({avatar:
// uid}), storage.privateUrl(uid).
//
// POST /blobs takes {"blob":{"name","content_type","public"}} (a user session; public
// defaults to false, content_type to application/octet-stream) and answers the blob with
// blob_object_access {"object_access_type":"Write","expires","params"}: params is the
// absolute upload URL, Config.PublicURL + "/blobs/upload?grant=<grant>", in the shape of an
// S3 presigned POST. Set PublicURL when blobs are on (New logs a warning otherwise): without
// it the URL is derived from the request (https only over TLS, its Host, the mount prefix),
// and X-Forwarded-Proto and X-Forwarded-Host are believed only from Config.TrustedProxies. The SDK posts the file
// there as multipart/form-data, the URL's query parameters first as form fields, then the
// part "file" (a filename is optional); the grant may also stay in the URL's query. The grant
// is an HMAC-signed token naming the blob, its owner and the size limit, valid 15 minutes and
// single-use: the first upload spends it whatever its outcome. A CB-Token sent with the
// upload must be the owner's. The file is streamed to storage and kept only if whole and
// within the limit (10 MiB by default): 413 otherwise, and nothing is stored. PUT
// /blobs/{id}/complete with {"size":N} (or {"blob":{"size":N}}) completes the upload; a size
// other than the bytes received is 422 on "size" and discards the upload. Only completed
// blobs can be downloaded or used as an avatar; blobs not completed within an hour are
// removed by the janitor (identity.Identity.DeleteExpired runs the Service's Sweep).
//
// Each user's files are bounded by the application's identity.AppSettings.BlobQuota (100
// files and 100 MiB by default): POST /blobs beyond the file count is 422 {"errors":{"base":
// ["Too many files (maximum is N per user)"]}}; an upload larger than what remains of the
// bytes is 413 on "file"; and PUT /blobs/{id}/complete checks both again, so that uploads
// running at once cannot exceed the quota together (422 on "base", the upload discarded).
// POST /blobs is also rate-limited per client address (see Rate limits). A user's blobs go
// with the user: once it is deleted (DELETE /users/{id}, or a guest's expiry) none of them is
// served, and the janitor removes them, bytes included.
//
// GET /blobs/{uid} (what privateUrl and publicUrl build; also with ".json" and CB-Token, as
// getFile sends) serves a public blob to anyone and a private one to any valid session of
// its application, the token in the query (?token=, "undefined" counting as none) or in
// CB-Token; without one 401, with another application's 404. The answer carries the stored
// Content-Type, Content-Length, Last-Modified, ETag "<uid>", Accept-Ranges (ranges and
// conditional requests work), X-Content-Type-Options: nosniff, Content-Security-Policy:
// default-src 'none'; sandbox, Vary: Origin, and Content-Disposition inline for PNG, JPEG,
// GIF, WebP, AVIF and BMP, attachment for anything else (SVG and HTML included), so that an
// uploaded file never runs as a page of the API's origin. GET /blobs/{id} (numeric) is the
// metadata: the owner sees its blobs in any state, other sessions of the application only
// completed public ones (404 otherwise). Numeric ids and hex uids never collide: every uid
// holds a letter.
//
// # Rate limits
//
// POST /session, POST /login, POST /users and POST /blobs pass through Config.RateLimit
// (package ratelimit; on by default, counting in memory): a volume per client address for
// application sessions, logins, sign-ups and new files (60 at once, then one per 10 s); for logins with a login or email, a budget of
// failed logins per address and a tarpit per (account, address) that delays each attempt
// after the fifth by 1 s, doubling up to 10 s, instead of locking the account, so an
// attacker elsewhere can never lock a user out. A successful login clears its tarpit.
// Provider-token and guest logins count only toward the address's volume. Answers that
// prove nothing about the credentials (422, 503) are not counted as failures. A refused
// request, or one that would wait in the tarpit while the address already has 4 waiting
// (256 in all), is answered 429 with Retry-After in seconds.
//
// The client address is the connection's peer (IPv6 addresses counted per /64). Behind a
// reverse proxy, list it in Config.TrustedProxies: when the peer is one of them,
// Config.ClientAddrHeader (X-Forwarded-For) is read from the right, skipping trusted
// proxies, and the first other address is the client; entries a client wrote further left
// are ignored. Without TrustedProxies no header is ever believed.
//
// # Password reset
//
// GET or POST /users/password/reset (email in the query, a JSON body {"email":...} as the
// JavaScript SDK sends, or a form) needs the application: a CB-Token of any session (an
// application session is enough; the SDK sends the one it has) or, without one, CB-AuthKey;
// neither is 401 "Required session does not exist" so that the SDK's sessionExpired hook can
// create a session and retry. It answers 200 with an empty body whether or not a user has
// the address, after the same work either way: the request is queued and the reset service's
// worker looks the user up and mails the link (Config.Reset, a *passwordreset.Service; see
// its Request). A blank or malformed address is 422 naming "email"; without Config.Reset, or
// with a service without a Mailer, the answer is 403. Besides the rate limits above (429 per
// client address, and per address and email), the service keeps its own per-email and
// per-client limits, which answer 200 and send nothing.
//
// The mailed link (passwordreset.Config.LinkURL) opens GET /password_reset?token=...: a page
// with the application's name, the account's email and a form (labelled fields, no
// JavaScript, no external assets; Config.ResetPages replaces the templates) that posts
// token, password and password_confirmation back to POST /password_reset. Success shows a
// confirmation page; a mismatch or a password the application's policy refuses shows the
// form again with the message (422); an unknown, used, replaced or expired token shows a page
// asking for a new link (410 Gone). The pages are sent with Content-Security-Policy
// (default-src 'none', the page's style by nonce, form-action 'self', frame-ancestors
// 'none'), Referrer-Policy: no-referrer, Cache-Control: no-store, X-Frame-Options: DENY and
// X-Content-Type-Options: nosniff; the token is never logged (only paths are). A client
// that does not accept text/html (an application with its own reset screen) gets
// ConnectyCube JSON instead: 200 empty on success, 422 {"errors":{"token":["is invalid or
// has expired"]}}, {"errors":{"password":[...]}} or {"errors":{"password_confirmation":
// ["doesn't match password"]}}. The form needs no CSRF token: it carries the reset token
// itself, which is the only authority the request has (no cookie or session is involved),
// so a cross-site form cannot act without already knowing the secret, and framing is
// forbidden.
//
// # User retrieval
//
// GET /users/v2 reads the bracket syntax the JavaScript SDK sends (users.getV2 serializes
// nested arrays): field=v, field[op]=v, field[op][]=v with op in, nin, start_with, gt, gte,
// lt, lte (and eq); field[]=v means in; limit (1..100, default 100), offset, sort_asc or
// sort_desc. in and nin on id and user_tags also take one comma list, and user_tags=a,b
// means any of them. Dates are Unix seconds, ISO 8601 ("2018-12-06T09:21:41Z", with an
// offset, without a zone meaning UTC, or a bare date), or what the SDK sends for a
// JavaScript Date: its toString() ("Fri Nov 10 2017 00:00:00 GMT+0000 (Coordinated
// Universal Time)"), also toUTCString(). The V2 rules (users_rules.go) apply: at
// least one stand-alone field (id, login, email, full_name, phone, external_id, facebook_id,
// twitter_id, user_tags) with eq, in or start_with, or at least one date comparison; no
// comparison on stand-alone fields; dates only with comparisons; start_with needs 4
// characters and answers at most 5 users.
//
// The V1 list GET /users takes page (default 1), per_page (1..100, default 10), filter[]
// repeated as "<type> <field> <op> <value>" (types number, integer, string, date; ops gt,
// lt, ge, le, eq, ne, between "a,b", in "a,b,c"; dates yyyy-mm-dd, yyyy.mm.dd or any V2
// form), order "<asc|desc> <type> <field>" and external_user_id (what users.get sends for
// {external_user_id}). by_full_name and by_tags page the same way.
//
// total_entries is exact up to 1000 matches (query.TotalLimit) and otherwise that
// number, or skip+limit+1 when larger, so that paging until skip+items reaches it still
// visits every page while a broad filter never costs a full count.
//
// A parameter an endpoint does not know, an unknown field or operator, a value of the wrong
// type, a broken rule or more than 100 values in a list is 422 keyed by the field (or base
// for the rules of the query as a whole). A query string that cannot be decoded at all
// (malformed escapes, id=1&id[in][]=2) is 400, as for every endpoint.
//
// The application settings "Allow to retrieve a list of users via API"
// (AppSettings.DisableUserList) and "Disable List Users API V1" (DisableUsersV1) are
// answered 403 {"errors":{"base":["Users retrieving forbidden in admin panel, application
// settings. Setup it here: the settings of application <id> (<setting>)"]}}. The first
// refuses the lists (V2, the V1 list, by_full_name, by_tags), the second every V1 endpoint
// above.
//
// With AppSettings.HideContactInfo (not a ConnectyCube setting; off by default) every
// endpoint above and GET /users/{id} answer email and phone null for users other than the
// session's own, and a filter on email or phone with start_with, gt, gte, lt, lte or between,
// or a sort_asc, sort_desc or order by either, is 422 keyed by the field (sort and order
// errors by "sort" and "order"): they would reveal the hidden values piecewise. Exact
// values (eq, in, ne, nin, by_email, /users/phone) are still answered: they confirm only an
// address the caller already knows.
//
// # Decisions where ConnectyCube is not documented
//
//   - POST /login answers 202 Accepted, the status of the QuickBlox API ConnectyCube derives
//     from; the JavaScript SDK accepts any 2xx and the Flutter SDK 200, 201 and 202. The
//     token stays the same (the SDKs keep it). DELETE /login answers an empty 200.
//   - POST /users answers 201 Created, PUT /users/{id} 200.
//   - An application session reports user_id null everywhere, also on GET /session.
//   - An unknown application or a wrong auth key is 401 with a flat message, deliberately not
//     the "Required session does not exist" body: the JavaScript SDK reacts to that body by
//     creating a new session and retrying, which cannot help here.
//   - POST /users with neither a session nor CB-AuthKey is 401 "Required session does not
//     exist", so the SDK's sessionExpired hook can create a session and retry. With both, the
//     token decides (and must be valid). Any session (application or user) may sign up a new
//     user of its application.
//   - Deleting or updating another user is 403. DELETE /users/external/{id} deletes only the
//     caller: 404 when no user of the application has that external user id, 403 when it is
//     another user.
//   - DELETE /session/{id} and DELETE /session/list (Flutter SDK only) act on the caller's
//     user's sessions: another user's or an unknown session id is 404; an application
//     session may end only itself, and DELETE /session/list with it is 403 Need user.
//   - A busy password hasher is 503 with Retry-After: 1 rather than 429: the client did not
//     exceed a rate, the server is saturated.
//   - Literal bracket keys inside JSON ({"firebase_phone[project_id]":..}) are accepted,
//     although ConnectyCube once rejected them, because the documentation shows them.
//   - CORS: preflights are answered 204 for allowed origins (Config.AllowedOrigins, default
//     any) with the headers CB-Token, CB-SDK, CB-AuthKey, CB-OS, Content-Type,
//     ConnectyCube-REST-API-Version and Authorization allowed, and CB-Token-ExpirationDate
//     and Date exposed. No credentials mode: tokens travel in headers, never in cookies.
//   - User retrieval turned off by an application setting is 403 (ConnectyCube documents the
//     message, not the status). The message ends with the application and the setting to
//     change instead of a link to ConnectyCube's admin panel.
//   - GET /users/v2 with date comparisons but no stand-alone field is answered: the
//     documentation's rule list calls "created_at[gte]=..." alone invalid, but its own
//     example "Retrieve users by last_request_at" is such a query, and the examples must
//     work. Exclusions (nin) alone are still 422.
//   - start_with ignores case (ASCII letters; login and email fully), as users expect of a
//     prefix search; other text equality is exact except login and email.
//   - /users/phone (JavaScript SDK) and /users/by_phone (Flutter SDK) are the same single
//     lookup; several users with one phone yield the lowest id.
//   - Header names are written in Go's canonical form (Cb-Token-Expirationdate); HTTP header
//     names are case-insensitive and every SDK reads them so.
package httpadapter

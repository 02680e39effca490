// Package identity gives a Go server user accounts and sessions: sign-up, login by login or
// email and password, guest users, external identity providers (Firebase phone and email,
// a Custom Identity Provider, OIDC ID tokens, or your own Provider), sliding session tokens,
// profile updates, password change and account deletion, for one or many applications.
//
// An application holds one *Identity, built by New from a Config that names a Store (see
// store/gormstore for SQLite and PostgreSQL), a PasswordHasher and the Providers to offer
// (see provider/password and provider/guest). The root package imports only the standard
// library and golang.org/x/text (the Go project's Unicode normalization and case folding,
// which logins and emails need); the HTTP adapter that speaks the ConnectyCube REST API lives
// in httpadapter.
//
// # Applications
//
// Every user and session belongs to an Application, identified by its id and auth key.
// AppSettings carries ConnectyCube's permissions: DenyAutoCreate ("Session creation without
// an existing user entity": Allow by default, as ConnectyCube documents; Deny is the
// recommended hardening), the idle lifetime of sessions (2 h), the lifetime of guests
// (24 h) and the password policy (8 to 128 characters).
//
// # Operator API
//
// The calls above act as a session: what a client may do. A server's own code and admin
// tools act as the operator instead, by application id and user id, without a session and
// without the settings that protect the public API (DisableUserList, DisableUsersV1,
// HideContactInfo). Every change goes through the same validation, uniqueness checks and
// cache invalidation as a session's and applies in this process at once (in other
// processes within Config.RecheckInterval). Never expose these calls to clients.
//
// Applications, on Identity: CreateApplication, Application, Applications,
// RenameApplication, UpdateApplicationSettings (the whole AppSettings, including each
// provider's configuration in Settings.Providers, which the provider packages' Enable
// functions fill in: a Custom Identity Provider's mapping, Firebase project ids),
// RotateApplicationKeys (a new AuthKey and AuthSecret; the old ones stop working, sessions
// stay), and DeleteApplication (the application with all its users, sessions, external
// accounts, nonces and reset tokens, in one store transaction; its files are removed by
// DeleteExpired). Also on Identity: LinkExternalAccount and DeleteExpired.
//
// Users and their sessions, on Identity.Operator():
//
//   - User and SearchUsers (a typed UserQuery under the V1 rules; no filter lists every
//     user), with every field;
//   - UpdateUser: a profile, login, email or password (no old password needed; a new
//     password signs the user out everywhere and voids reset links);
//   - SetBlocked: a blocked user's sessions end at once and it cannot sign in with any
//     provider; credentials that prove it fail with ErrUserBlocked, a child of
//     ErrInvalidCredentials returned only after the provider accepted them, so that a
//     wrong password never reveals the block;
//   - DeleteUser;
//   - Sessions, RevokeSession and RevokeSessions.
//
// # Routing logins to a provider, and local sign-up
//
// AppSettings.PasswordProvider routes every login/email + password of an application to one
// provider (a Custom Identity Provider). Credentials that name another provider together
// with a login, email or password, the local "password" provider in particular, are then
// refused with ErrUnknownProvider: they would create local accounts that can take the login
// or email of a future user of the provider. For the same reason AppSettings.LocalSignUp
// (default: allowed unless PasswordProvider is set) governs SignUp, a session's auto
// sign-up and a guest's upgrade to a regular account; refused, they fail with ErrDisabled
// (the auto sign-up like an unknown login, with ErrInvalidCredentials). While it refuses them, the login
// and email of a user belong to the provider too: UpdateUser refuses to change them
// (ErrDisabled naming the field), so that no user can rename itself to a future user's login.
//
// Local users created before a provider was enabled cannot sign in with their local
// password any more, and the provider's first sign-in of the same person fails while the
// local account holds its login or email. To move them, link each one to its subject at the
// provider with LinkExternalAccount (for a Custom Identity Provider, the uid its answer maps):
// the provider's sign-in then reaches the existing user, with its id, profile and files. Users
// that should not move can be deleted, or keep working through a provider token if the
// application offers one.
//
// # Profile changes
//
// A password change needs the current password (UserInput.OldPassword; a wrong one is
// ErrWrongPassword) and signs the user out everywhere else. An email change needs it too when
// AppSettings.EmailChangeNeedsPassword is set, and, when package passwordreset is set up with
// a Mailer, the old address is told of the change (without naming the new one).
//
// # Sessions
//
// A session token carries 256 bits from crypto/rand; only its SHA-256 is stored. A session
// lives Idle (2 h) after its last request and at most Config.AbsoluteSessionLifetime (30
// days) in all. Validate extends a session on every call but writes activity to the Store at
// most once per Config.ActivityInterval (1 min): within one process expiry is exact; a second
// process, or this one after a restart, sees activity up to ActivityInterval old and can
// therefore expire an idle session up to ActivityInterval early. A validated session is
// trusted from memory for Config.RecheckInterval (5 s), which bounds how long a session
// revoked (or a user deleted or blocked) through another process still works here; changes
// made through the same Identity apply at once.
//
// # Signed session requests
//
// Older SDKs sign session requests (HMAC-SHA1 of the sorted, unencoded key=value pairs, under
// the application's auth secret). A request that carries a signature is verified, its
// timestamp must lie within Config.SignatureWindow (60 min) of now, and a (timestamp, nonce)
// pair is accepted once. HMAC-SHA256 signatures (64 hex digits, the JavaScript SDK 3.x
// opt-in) are accepted too. Both sort orders used by the SDKs (by "key=value" string and by
// key) are accepted. Unsigned requests with a valid auth key are accepted and their timestamp,
// if any, is not checked: current SDKs send neither. An application whose clients all sign
// sets AppSettings.RequireSignature: an unsigned request then fails with ErrInvalidSignature
// before any credential is checked.
//
// # Files and avatars
//
// File storage for avatars (the ConnectyCube storage API) is package blob, built on an
// Identity: blob.New registers a CheckAvatar hook, so that a user's Avatar must then be the
// UID of a completed file of the application that is public or the user's own, and a Sweep
// hook that removes stale files in every janitor pass. Without it an Avatar is free text.
// Each user's files are bounded by AppSettings.BlobQuota, kept here with the other
// application settings.
//
// # Password reset
//
// Password reset by email is package passwordreset, built on an Identity through its Hooks:
// the core keeps only the per-application message (AppSettings.ResetEmail, validated when an
// application is stored) and sets the new password through Operator.UpdateUser.
// Shutdown stops the janitors of StartJanitor and then runs the Shutdown hooks (the reset
// service's mail workers).
//
// # Logins and emails
//
// Logins and emails are compared, and must be unique per application, in a normalized form,
// so that two accounts cannot differ only in ways a reader cannot see (NormalizeLogin,
// NormalizeEmail):
//
//   - Compatibility forms are folded (Unicode NFKC): the fullwidth "ａｌｉｃｅ", the ligature
//     "ﬁ" and mathematical letters such as "𝐚" are "alice", "fi" and "a". Logins and emails
//     are stored in their NFKC form, and a lookup finds them whatever compatible form is
//     typed.
//   - Case does not count: logins are compared under Unicode case folding ("Straße" and
//     "STRASSE" are one login), emails lower-cased.
//   - Invisible and control characters are refused ("is invalid"): control and format
//     characters (zero-width space and joiner, soft hyphen, bidirectional overrides and
//     isolates), other default-ignorable ones (variation selectors, Hangul fillers),
//     private-use and unassigned code points, line and paragraph separators.
//   - A combining mark must follow a base character, may not repeat, and at most three may
//     stack on one character.
//   - The letters of a login, and of each dot-separated part of an email, come from one
//     script, plus characters shared by all scripts (digits, punctuation) and inherited
//     marks; Latin may mix with Han, Hiragana and Katakana (Japanese), Han and Hangul
//     (Korean) or Han and Bopomofo (Chinese). "аlice" with a Cyrillic "а" is refused.
//   - A login written entirely in look-alike letters of another script (the Cyrillic "ѕсоре"
//     for "scope") is refused as taken: stores compare the Unicode confusable prototypes
//     of non-ASCII characters (see Store.CreateUser). ASCII logins that merely resemble
//     each other ("user1", "userl") remain distinct.
//
// These rules apply when a login or email is set; existing accounts keep theirs.
//
// # Errors
//
// Errors wrap the sentinels in errors.go (compare with errors.Is); validation failures come as
// *Error listing each problem as a FieldError: the input field and a code ("blank", "taken",
// "too_short" with its Limit, ...; FieldError lists them). The codes are the contract, not
// words: a server puts them in its own language (the ConnectyCube adapter in
// ConnectyCube's), so an embedder can write
//
//	var e *identity.Error
//	if errors.As(err, &e) && e.Code("login") == "taken" { ... }
//
// An unknown login and a wrong password are the same ErrInvalidCredentials, and the password
// provider spends the same hashing work on both.
package identity

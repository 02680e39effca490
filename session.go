package identity

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Session is an application session (UserID 0) or a user session.
type Session struct {
	ID            int64
	ApplicationID int64
	// UserID is 0 for an application session.
	UserID int64
	// Token is the secret the client presents. It is set on sessions returned by CreateSession
	// and Validate (the token that was presented) and never stored: the Store keeps only
	// TokenHash, its SHA-256.
	Token     string
	TokenHash []byte
	// Nonce and Timestamp echo a signed request's nonce and timestamp ("ts" on the wire).
	Nonce     string
	Timestamp int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// LastActiveAt is the last request made with the session (as persisted, precise to
	// Config.ActivityInterval; exact in a session returned by Validate).
	LastActiveAt time.Time
	// Idle is the session's idle lifetime, fixed at creation (the application's SessionIdle,
	// or its GuestLifetime for a guest).
	Idle time.Duration
	// AbsoluteExpiresAt ends the session however active it is.
	AbsoluteExpiresAt time.Time
	// ExpiresAt is min(LastActiveAt+Idle, AbsoluteExpiresAt).
	ExpiresAt time.Time
	// User is the session's user for a user session returned by this package; nil otherwise.
	// Stores neither read nor write it.
	User *User
}

func (s *Session) expiry() time.Time {
	e := s.LastActiveAt.Add(s.Idle)
	if !s.AbsoluteExpiresAt.IsZero() && s.AbsoluteExpiresAt.Before(e) {
		e = s.AbsoluteExpiresAt
	}
	return e
}

// HashToken returns the SHA-256 of a session token, the form a Store keeps.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// newToken returns a session token with 256 bits from crypto/rand, as 64 hex characters.
func newToken() string { return randomHex(32) }

// SessionRequest is a request to create a session.
type SessionRequest struct {
	ApplicationID int64
	AuthKey       string
	// Signed, when not nil, makes this a signed request: Identity calls it with the
	// application's AuthSecret, and it reports whether the request carries a valid signature
	// made with that secret (the HTTP adapter checks the ConnectyCube SDKs' HMAC). Timestamp
	// must then be within Config.SignatureWindow of now and (Timestamp, Nonce) unused; any
	// failure is ErrInvalidSignature. Unsigned requests are accepted with a valid AuthKey and
	// their timestamp is not checked (current SDKs send neither), unless the application's
	// AppSettings.RequireSignature refuses them with ErrInvalidSignature (field "base":
	// "Unexpected signature").
	Signed func(secret string) bool
	// Timestamp and Nonce are the client's, echoed in the session.
	Timestamp int64
	Nonce     string
	// Credentials selects a user session; nil asks for an application session.
	Credentials *Credentials
}

// CreateSession authenticates the application (and, with Credentials, the user) and returns
// a new session whose Token is set. Unknown application or wrong auth key:
// ErrApplicationNotFound. Bad credentials: ErrInvalidCredentials.
func (id *Identity) CreateSession(ctx context.Context, req SessionRequest) (*Session, error) {
	app, err := id.application(ctx, req.ApplicationID)
	if err != nil {
		return nil, err
	}
	if !constantTimeEqual(app.AuthKey, req.AuthKey) {
		return nil, ErrApplicationNotFound
	}
	now := id.now()
	if len(req.Nonce) > 64 || !utf8.ValidString(req.Nonce) || strings.ContainsRune(req.Nonce, 0) {
		return nil, NewError("create session", ErrInvalidInput, "nonce", "invalid")
	}
	if req.Signed != nil || app.Settings.RequireSignature {
		if err := id.checkSignature(ctx, app, &req, now); err != nil {
			return nil, err
		}
	}
	var u *User
	if req.Credentials != nil {
		if u, err = id.authenticate(ctx, app, req.Credentials); err != nil {
			return nil, err
		}
	}
	s := &Session{
		ApplicationID: app.ID,
		Token:         newToken(),
		Nonce:         req.Nonce,
		Timestamp:     req.Timestamp,
		CreatedAt:     now,
		UpdatedAt:     now,
		LastActiveAt:  now,
	}
	if s.Timestamp == 0 {
		s.Timestamp = now.Unix()
	}
	s.TokenHash = HashToken(s.Token)
	id.bindUser(s, app, u, now)
	if err := id.store.CreateSession(ctx, s); err != nil {
		return nil, err
	}
	id.recordLogin(ctx, s, u, now)
	s.User = u
	id.cache.put(s, u, now, now)
	return s, nil
}

// recordLogin makes a login a request of the user: LastRequestAt becomes now, in u and in
// the Store (a failure to write it is logged, not returned).
func (id *Identity) recordLogin(ctx context.Context, s *Session, u *User, now time.Time) {
	if u == nil {
		return
	}
	u.LastRequestAt = now
	// The session row was just written with this activity; only the user needs it.
	if err := id.store.TouchSession(ctx, 0, u.ID, now, s.ExpiresAt); err != nil {
		id.log.Warn("identity: recording login time failed", "user_id", u.ID, "err", err)
	}
}

// bindUser sets the session's user and lifetimes for app and u (nil for an app session).
func (id *Identity) bindUser(s *Session, app *Application, u *User, now time.Time) {
	s.UserID = 0
	s.Idle = app.Settings.idle()
	s.AbsoluteExpiresAt = s.CreatedAt.Add(id.cfg.AbsoluteSessionLifetime)
	if u != nil {
		s.UserID = u.ID
		if u.IsGuest {
			s.Idle = app.Settings.guestLifetime()
			if !u.GuestExpiresAt.IsZero() && u.GuestExpiresAt.Before(s.AbsoluteExpiresAt) {
				s.AbsoluteExpiresAt = u.GuestExpiresAt
			}
		}
	}
	s.UpdatedAt = now
	s.ExpiresAt = s.expiry()
}

func (id *Identity) checkSignature(ctx context.Context, app *Application, req *SessionRequest, now time.Time) error {
	const op = "verify signature"
	if req.Signed == nil {
		// The application requires signed requests (AppSettings.RequireSignature).
		return NewError(op, ErrInvalidSignature, "signature", "invalid")
	}
	if req.Timestamp == 0 {
		return NewError(op, ErrInvalidSignature, "timestamp", "blank")
	}
	ts := time.Unix(req.Timestamp, 0)
	if d := now.Sub(ts); d > id.cfg.SignatureWindow || -d > id.cfg.SignatureWindow {
		return NewError(op, ErrInvalidSignature, "timestamp", "invalid")
	}
	if !req.Signed(app.AuthSecret) {
		return NewError(op, ErrInvalidSignature, "signature", "invalid")
	}
	// A nonce must stay recorded for as long as its timestamp is acceptable.
	exp := ts.Add(id.cfg.SignatureWindow).Add(time.Minute)
	if err := id.store.UseNonce(ctx, app.ID, req.Timestamp, req.Nonce, exp); err != nil {
		if errors.Is(err, ErrInvalidSignature) {
			return NewError(op, ErrInvalidSignature, "nonce", "used")
		}
		return err
	}
	return nil
}

// Validate looks a token up, extends it (Idle after now) and returns the session with its
// User. An unknown, revoked or expired token yields ErrSessionNotFound. On the common path
// it does not touch the Store: sessions are cached for Config.RecheckInterval and activity
// is written at most once per Config.ActivityInterval.
func (id *Identity) Validate(ctx context.Context, token string) (*Session, error) {
	if token == "" || len(token) > 256 {
		return nil, ErrSessionNotFound
	}
	h := sha256.Sum256([]byte(token))
	now := id.now()
	e := id.cache.get(h)
	if e == nil || e.stale(now, id.cfg.RecheckInterval) {
		id.stats.misses.Add(1)
		var err error
		if e, err = id.loadEntry(ctx, h, e, now); err != nil {
			return nil, err
		}
	} else {
		id.stats.hits.Add(1)
	}
	s, persist, ok := e.touch(now, id.cfg.ActivityInterval)
	if !ok {
		id.cache.remove(h)
		return nil, ErrSessionNotFound
	}
	if persist {
		if err := id.store.TouchSession(ctx, s.ID, s.UserID, now, s.ExpiresAt); err != nil {
			// Not fatal: the session is valid; the activity is written on a later request.
			e.unpersist()
			id.log.Warn("identity: recording session activity failed", "session_id", s.ID, "err", err)
		}
	}
	s.Token = token
	return s, nil
}

// loadEntry reads the session behind hash (and its user) from the Store into the cache,
// keeping the newer in-memory activity of old when there is one.
func (id *Identity) loadEntry(ctx context.Context, h [32]byte, old *cacheEntry, now time.Time) (*cacheEntry, error) {
	gen := id.cache.gen.Load()
	s, err := id.store.SessionByTokenHash(ctx, h[:])
	if err != nil {
		if errors.Is(err, ErrSessionNotFound) {
			id.cache.remove(h)
		}
		return nil, err
	}
	var u *User
	if s.UserID != 0 {
		if u, err = id.store.User(ctx, s.ApplicationID, s.UserID); err != nil {
			if errors.Is(err, ErrUserNotFound) {
				id.cache.remove(h)
				return nil, ErrSessionNotFound
			}
			return nil, err
		}
		if u.Blocked {
			// A login that raced the block (Store.SetUserBlocked deletes the sessions it
			// sees): delete this one too, so that no listing shows it as live.
			id.cache.remove(h)
			if err := id.store.DeleteSession(ctx, s.ID); err != nil {
				id.log.Warn("identity: deleting a blocked user's session failed", "session_id", s.ID, "err", err)
			}
			return nil, ErrSessionNotFound
		}
	}
	persisted := s.LastActiveAt
	if old != nil {
		if la := old.lastActive(); la.After(s.LastActiveAt) {
			s.LastActiveAt = la
			s.ExpiresAt = s.expiry()
		}
	}
	e := id.cache.put(s, u, now, persisted)
	if id.cache.gen.Load() != gen {
		// Sessions were invalidated while this one was read: the read may predate it, so
		// it serves this request only.
		e.markStale()
	}
	return e, nil
}

// Login upgrades the application session s (from Validate) to a user session for creds
// (POST /login) and returns it; the token stays the same. A user session is switched to the
// user the credentials prove. A nil s yields ErrSessionNotFound.
func (id *Identity) Login(ctx context.Context, s *Session, creds Credentials) (*Session, error) {
	if s == nil {
		return nil, ErrSessionNotFound
	}
	app, err := id.application(ctx, s.ApplicationID)
	if err != nil {
		return nil, err
	}
	u, err := id.authenticate(ctx, app, &creds)
	if err != nil {
		return nil, err
	}
	return id.setSessionUser(ctx, s, app, u)
}

// Logout turns the user session s (from Validate) back into an application session (DELETE
// /login). Logging out an application session is a no-op. A nil s yields
// ErrSessionNotFound.
func (id *Identity) Logout(ctx context.Context, s *Session) (*Session, error) {
	if s == nil {
		return nil, ErrSessionNotFound
	}
	if s.UserID == 0 {
		return s, nil
	}
	app, err := id.application(ctx, s.ApplicationID)
	if err != nil {
		return nil, err
	}
	return id.setSessionUser(ctx, s, app, nil)
}

func (id *Identity) setSessionUser(ctx context.Context, s *Session, app *Application, u *User) (*Session, error) {
	now := id.now()
	id.bindUser(s, app, u, now)
	if err := id.store.SetSessionUser(ctx, s); err != nil {
		return nil, err
	}
	id.recordLogin(ctx, s, u, now)
	s.User = u
	id.cache.put(s, u, now, s.LastActiveAt) // replaces the entry of the same token
	return s, nil
}

// DestroySession deletes the session s (from Validate) (DELETE /session). A nil s yields
// ErrSessionNotFound.
func (id *Identity) DestroySession(ctx context.Context, s *Session) error {
	if s == nil {
		return ErrSessionNotFound
	}
	if err := id.store.DeleteSession(ctx, s.ID); err != nil {
		return err
	}
	id.cache.removeHash(s.TokenHash)
	id.publish(ctx, Invalidation{SessionID: s.ID})
	return nil
}

// Sessions lists the sessions of s's user that have not expired, newest first. Their Token
// is empty. An application session yields ErrNeedUser.
func (id *Identity) Sessions(ctx context.Context, s *Session) ([]*Session, error) {
	if err := needUser(s); err != nil {
		return nil, err
	}
	return id.liveSessions(ctx, s.UserID, s)
}

// liveSessions lists the sessions of userID that have not expired, newest first, without
// Token. Activity this process knows of and has not yet written (the session self, and
// cached sessions) counts.
func (id *Identity) liveSessions(ctx context.Context, userID int64, self *Session) ([]*Session, error) {
	all, err := id.store.UserSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := id.now()
	out := all[:0]
	for _, x := range all {
		if self != nil && x.ID == self.ID {
			x.LastActiveAt, x.ExpiresAt = self.LastActiveAt, self.ExpiresAt
		} else if la := id.cache.lastActive(x.TokenHash); la.After(x.LastActiveAt) {
			x.LastActiveAt = la
			x.ExpiresAt = x.expiry()
		}
		if x.ExpiresAt.After(now) {
			x.Token = ""
			out = append(out, x)
		}
	}
	return out, nil
}

// RevokeSession deletes session sessionID of s's user (DELETE /session/{id}). A session of
// another user, or one that does not exist, yields ErrNotFound; an application session may
// only revoke itself.
func (id *Identity) RevokeSession(ctx context.Context, s *Session, sessionID int64) error {
	if s == nil {
		return ErrSessionNotFound
	}
	if sessionID == s.ID {
		if err := id.store.DeleteSession(ctx, s.ID); err != nil {
			return err
		}
		id.cache.removeHash(s.TokenHash)
		id.publish(ctx, Invalidation{SessionID: s.ID})
		return nil
	}
	if s.UserID == 0 {
		return &Error{Op: "revoke session", Err: ErrNotFound}
	}
	return id.revokeUserSession(ctx, s.UserID, sessionID)
}

// revokeUserSession deletes session sessionID of user userID and forgets it; ErrNotFound
// when userID has no such session.
func (id *Identity) revokeUserSession(ctx context.Context, userID, sessionID int64) error {
	all, err := id.store.UserSessions(ctx, userID)
	if err != nil {
		return err
	}
	for _, x := range all {
		if x.ID == sessionID {
			if err := id.store.DeleteSession(ctx, x.ID); err != nil {
				return err
			}
			id.cache.removeHash(x.TokenHash)
			id.publish(ctx, Invalidation{SessionID: x.ID})
			return nil
		}
	}
	return &Error{Op: "revoke session", Err: ErrNotFound}
}

// RevokeOtherSessions deletes every session of s's user except s (DELETE /session/list) and
// returns how many it deleted. An application session yields ErrNeedUser.
func (id *Identity) RevokeOtherSessions(ctx context.Context, s *Session) (int, error) {
	if err := needUser(s); err != nil {
		return 0, err
	}
	return id.revokeUserSessions(ctx, s.UserID, s.ID)
}

// revokeUserSessions deletes every session of userID except keep (0: none) and forgets them
// in this process at once; it returns how many it deleted.
func (id *Identity) revokeUserSessions(ctx context.Context, userID, keep int64) (int, error) {
	n, err := id.store.DeleteUserSessions(ctx, userID, keep)
	if err != nil {
		return 0, err
	}
	id.cache.dropUser(userID, keep)
	id.publish(ctx, Invalidation{UserID: userID})
	return n, nil
}

// AuthenticateUserToken checks that token is a live session of user userID and returns the
// user. It is the check a chat server or websocket gateway makes when a user without a
// password (CIdP, Firebase, guest) connects with its user id and its session token as the
// password ("Connect to Chat with CIdP"). Any mismatch yields ErrInvalidCredentials. Like any
// request, it extends the session.
func (id *Identity) AuthenticateUserToken(ctx context.Context, userID int64, token string) (*User, error) {
	s, err := id.Validate(ctx, token)
	if err != nil {
		if errors.Is(err, ErrSessionNotFound) {
			return nil, ErrInvalidCredentials
		}
		return nil, err
	}
	if s.UserID == 0 || s.UserID != userID || s.User == nil {
		return nil, ErrInvalidCredentials
	}
	return s.User, nil
}

// authenticate runs the provider for creds and resolves its claims to a user.
func (id *Identity) authenticate(ctx context.Context, app *Application, creds *Credentials) (*User, error) {
	if err := creds.checkRouting(app); err != nil {
		return nil, err
	}
	name := creds.providerName(app)
	p := id.providers[name]
	if p == nil {
		return nil, NewError("authenticate", ErrUnknownProvider, "provider", "unsupported")
	}
	for attempt := 0; ; attempt++ {
		req := &AuthRequest{Application: app, Credentials: *creds, Users: appUsers{id.store, app.ID}, Now: id.now()}
		c, err := p.Authenticate(ctx, req)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, ErrInvalidCredentials
		}
		if err := c.check(); err != nil {
			return nil, fmt.Errorf("identity: provider %q: %w", name, err)
		}
		c.Provider = name
		u, err := id.resolveClaims(ctx, app, c, creds)
		// Two first logins of the same new user race on the unique indexes: the loser asks the
		// provider again and now finds the winner's user.
		if err != nil && attempt == 0 && errors.Is(err, errRaced) {
			continue
		}
		return u, err
	}
}

var errRaced = errors.New("identity: concurrent creation")

// sameProfile reports whether a and b have the same client-visible profile fields.
func sameProfile(a, b *User) bool {
	tz := func(p *int) int {
		if p == nil {
			return 1 << 30
		}
		return *p
	}
	return a.Login == b.Login && a.Email == b.Email && a.FullName == b.FullName && a.Phone == b.Phone &&
		a.Website == b.Website && a.ExternalID == b.ExternalID && a.ExternalUserID == b.ExternalUserID &&
		a.FacebookID == b.FacebookID && a.TwitterID == b.TwitterID && a.CustomData == b.CustomData &&
		a.Avatar == b.Avatar && a.BlobID == b.BlobID && tz(a.Timezone) == tz(b.Timezone) &&
		strings.Join(a.Tags, "\x00") == strings.Join(b.Tags, "\x00")
}

func (id *Identity) resolveClaims(ctx context.Context, app *Application, c *Claims, creds *Credentials) (*User, error) {
	now := id.now()
	switch {
	case c.UserID != 0:
		var u *User
		if c.User != nil && c.User.ID == c.UserID && c.User.ApplicationID == app.ID {
			cp := *c.User
			u = &cp
		} else {
			var err error
			if u, err = id.store.User(ctx, app.ID, c.UserID); err != nil {
				if errors.Is(err, ErrUserNotFound) {
					return nil, ErrInvalidCredentials
				}
				return nil, err
			}
		}
		if u.Blocked {
			return nil, ErrUserBlocked
		}
		if c.Rehash != "" {
			u.PasswordHash = c.Rehash
			if err := id.store.UpdateUser(ctx, u); err != nil {
				id.log.Warn("identity: storing upgraded password hash failed", "user_id", u.ID, "err", err)
			}
		}
		return u, nil

	case c.Subject != "":
		u, err := id.store.UserByExternalAccount(ctx, app.ID, c.Provider, c.Subject)
		if err == nil {
			if u.Blocked {
				return nil, ErrUserBlocked
			}
			if c.RefreshProfile {
				v := *u
				v.Tags = append([]string(nil), u.Tags...)
				if err := applyInput(&v, &c.Profile, false, app.Settings.PasswordPolicy); err != nil {
					return nil, err
				}
				if !sameProfile(&v, u) {
					v.UpdatedAt = now
					if err := id.store.UpdateUser(ctx, &v); err != nil {
						return nil, id.allConflicts(ctx, &v, err)
					}
					id.userChanged(ctx, &v)
					u = &v
				}
			}
			return u, nil
		}
		if !errors.Is(err, ErrUserNotFound) {
			return nil, err
		}
		u = &User{ApplicationID: app.ID, UID: newUID(), CreatedAt: now, UpdatedAt: now}
		if err := applyInput(u, &c.Profile, false, app.Settings.PasswordPolicy); err != nil {
			return nil, err
		}
		acct := &ExternalAccount{ApplicationID: app.ID, Provider: c.Provider, Subject: c.Subject, CreatedAt: now}
		if err := creds.beforeCreate(ctx); err != nil {
			return nil, err
		}
		if err := id.store.CreateUser(ctx, u, acct); err != nil {
			// A concurrent first login of the same subject may have won; the store reports
			// whichever unique index it checked first (the account, or the login or email the
			// winner took), so look the account up again before blaming a collision.
			if errors.Is(err, ErrUserExists) {
				if _, lerr := id.store.UserByExternalAccount(ctx, app.ID, c.Provider, c.Subject); lerr == nil {
					return nil, errRaced
				}
			}
			return nil, err
		}
		return u, nil

	case c.NewUser:
		// An auto sign-up is a local sign-up: refused like an unknown login where either
		// setting denies it.
		if app.Settings.DenyAutoCreate || !app.Settings.localSignUp() {
			return nil, ErrInvalidCredentials
		}
		u := &User{ApplicationID: app.ID, UID: newUID(), CreatedAt: now, UpdatedAt: now, PasswordHash: c.PasswordHash}
		if err := applyInput(u, &c.Profile, false, app.Settings.PasswordPolicy); err != nil {
			return nil, err
		}
		if u.Login == "" && u.Email == "" {
			return nil, ErrInvalidCredentials
		}
		if err := creds.beforeCreate(ctx); err != nil {
			return nil, err
		}
		if err := id.store.CreateUser(ctx, u, nil); err != nil {
			if errors.Is(err, ErrUserExists) {
				return nil, errRaced
			}
			return nil, err
		}
		return u, nil

	case c.Guest:
		u := &User{
			ApplicationID:  app.ID,
			UID:            newUID(),
			Login:          "guest_login_" + strings.ToUpper(randomHex(16)),
			IsGuest:        true,
			GuestExpiresAt: now.Add(app.Settings.guestLifetime()),
			CreatedAt:      now,
			UpdatedAt:      now,
		}
		if err := applyInput(u, &UserInput{FullName: c.Profile.FullName}, false, app.Settings.PasswordPolicy); err != nil {
			return nil, err
		}
		if err := creds.beforeCreate(ctx); err != nil {
			return nil, err
		}
		if err := id.store.CreateUser(ctx, u, nil); err != nil {
			return nil, err
		}
		return u, nil
	}
	return nil, ErrInvalidCredentials
}

// sessionCache holds validated sessions by token hash, with an index by user for revocation.
type sessionCache struct {
	mu     sync.Mutex
	max    int
	byHash map[[32]byte]*cacheEntry
	byUser map[int64]map[[32]byte]struct{}
	byID   map[int64][32]byte
	// gen counts invalidations (revocations, user changes, notifications received), so
	// that a session read from the Store while one happened is not trusted (loadEntry).
	gen atomic.Uint64
}

type cacheEntry struct {
	hash [32]byte

	mu        sync.Mutex
	s         Session
	u         *User
	checked   time.Time // when the entry was read from the Store
	persisted time.Time // LastActiveAt as last written to the Store
}

func newSessionCache(max int) *sessionCache {
	return &sessionCache{max: max, byHash: map[[32]byte]*cacheEntry{}, byUser: map[int64]map[[32]byte]struct{}{},
		byID: map[int64][32]byte{}}
}

func (c *sessionCache) get(h [32]byte) *cacheEntry {
	c.mu.Lock()
	e := c.byHash[h]
	c.mu.Unlock()
	return e
}

func (c *sessionCache) put(s *Session, u *User, checked, persisted time.Time) *cacheEntry {
	e := &cacheEntry{s: *s, checked: checked, persisted: persisted}
	e.s.User, e.s.Token = nil, ""
	copy(e.hash[:], s.TokenHash)
	if u != nil {
		uc := *u
		e.u = &uc
	}
	if c.max == 0 {
		return e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.byHash) >= c.max {
		// Evict an arbitrary tenth; evicted sessions are simply read again from the Store.
		n := c.max/10 + 1
		for h, old := range c.byHash {
			c.unlinkLocked(h, old)
			if n--; n == 0 {
				break
			}
		}
	}
	if old := c.byHash[e.hash]; old != nil {
		c.unlinkLocked(e.hash, old)
	}
	c.byHash[e.hash] = e
	c.byID[s.ID] = e.hash
	if s.UserID != 0 {
		m := c.byUser[s.UserID]
		if m == nil {
			m = map[[32]byte]struct{}{}
			c.byUser[s.UserID] = m
		}
		m[e.hash] = struct{}{}
	}
	return e
}

func (c *sessionCache) unlinkLocked(h [32]byte, e *cacheEntry) {
	delete(c.byHash, h)
	if c.byID[e.s.ID] == h {
		delete(c.byID, e.s.ID)
	}
	if uid := e.s.UserID; uid != 0 {
		if m := c.byUser[uid]; m != nil {
			delete(m, h)
			if len(m) == 0 {
				delete(c.byUser, uid)
			}
		}
	}
}

func (c *sessionCache) remove(h [32]byte) {
	c.mu.Lock()
	if e := c.byHash[h]; e != nil {
		c.unlinkLocked(h, e)
	}
	c.mu.Unlock()
}

// removeHash removes the cached session whose token hash is h (a slice, as stored).
func (c *sessionCache) removeHash(h []byte) {
	var k [32]byte
	if copy(k[:], h) != len(k) {
		return
	}
	c.gen.Add(1)
	c.remove(k)
}

// lastActive returns the in-memory activity of the cached session whose token hash is h,
// or the zero time.
func (c *sessionCache) lastActive(h []byte) time.Time {
	var k [32]byte
	if copy(k[:], h) != len(k) {
		return time.Time{}
	}
	if e := c.get(k); e != nil {
		return e.lastActive()
	}
	return time.Time{}
}

// dropUser removes every cached session of userID except sessionID keep.
func (c *sessionCache) dropUser(userID, keep int64) {
	c.gen.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	for h := range c.byUser[userID] {
		if e := c.byHash[h]; e != nil && e.s.ID != keep {
			c.unlinkLocked(h, e)
		}
	}
}

// setUser replaces the cached copy of u in every session of u.
func (c *sessionCache) setUser(u *User) {
	c.gen.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	for h := range c.byUser[u.ID] {
		if e := c.byHash[h]; e != nil {
			uc := *u
			e.mu.Lock()
			e.u = &uc
			e.mu.Unlock()
		}
	}
}

func (c *sessionCache) clear() {
	c.gen.Add(1)
	c.mu.Lock()
	c.byHash = map[[32]byte]*cacheEntry{}
	c.byUser = map[int64]map[[32]byte]struct{}{}
	c.byID = map[int64][32]byte{}
	c.mu.Unlock()
}

func (e *cacheEntry) stale(now time.Time, recheck time.Duration) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return now.Sub(e.checked) >= recheck || now.Before(e.checked)
}

func (e *cacheEntry) lastActive() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.s.LastActiveAt
}

// touch checks expiry, records activity at now and returns a copy of the session with a
// copy of its user. persist reports that the activity should be written to the Store.
func (e *cacheEntry) touch(now time.Time, interval time.Duration) (s *Session, persist, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.s.expiry().After(now) {
		return nil, false, false
	}
	if e.u != nil && e.u.IsGuest && !e.u.GuestExpiresAt.IsZero() && !e.u.GuestExpiresAt.After(now) {
		return nil, false, false
	}
	if now.After(e.s.LastActiveAt) {
		e.s.LastActiveAt = now
	}
	e.s.ExpiresAt = e.s.expiry()
	if now.Sub(e.persisted) >= interval {
		e.persisted = now
		persist = true
	}
	cp := e.s
	if e.u != nil {
		uc := *e.u
		if persist || now.After(uc.LastRequestAt) {
			uc.LastRequestAt = now
		}
		cp.User = &uc
	}
	return &cp, persist, true
}

// unpersist forgets that the last activity was written, so a later request writes it.
func (e *cacheEntry) unpersist() {
	e.mu.Lock()
	e.persisted = time.Time{}
	e.mu.Unlock()
}

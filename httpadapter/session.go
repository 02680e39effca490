package httpadapter

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/identitykit/identity"
)

// fieldErrs collects field-level input errors while reading parameters.
type fieldErrs map[string][]string

func (f fieldErrs) add(field, msg string) { f[field] = append(f[field], msg) }

func (f fieldErrs) err(op string) error {
	if len(f) == 0 {
		return nil
	}
	return &wireError{op: op, err: identity.ErrInvalidInput, fields: f}
}

// str reads the scalar at key of obj as a string (absent: ""). A non-scalar is a field error.
func (f fieldErrs) str(obj params, key, field string) string {
	v, ok := obj[key]
	if !ok {
		return ""
	}
	s, ok := asString(v)
	if !ok {
		f.add(field, "is invalid")
	}
	return s
}

// createSession is POST /session: an application session, or a user session for the
// credentials in the body. Any CB-Token is ignored.
func (h *handler) createSession(ctx context.Context, c *call) error {
	p := c.p
	f := fieldErrs{}
	req := identity.SessionRequest{}
	switch v, ok := p["application_id"]; {
	case !ok:
		f.add("application_id", "cannot be blank")
	default:
		n, ok := asInt64(v)
		if !ok || n <= 0 {
			f.add("application_id", "is invalid")
		}
		req.ApplicationID = n
	}
	req.AuthKey = f.str(p, "auth_key", "auth_key")
	if req.AuthKey == "" && f["auth_key"] == nil {
		f.add("auth_key", "cannot be blank")
	}
	sig := strings.TrimSpace(f.str(p, "signature", "signature"))
	if v, ok := p["timestamp"]; ok {
		if s, _ := asString(v); strings.TrimSpace(s) != "" {
			ts, ok := asInt64(v)
			if !ok || ts < 0 {
				f.add("timestamp", "is invalid")
			}
			req.Timestamp = ts
		}
	}
	req.Nonce = strings.TrimSpace(f.str(p, "nonce", "nonce"))
	creds := readCredentials(f, p, p.object("user"))
	if err := f.err("create session"); err != nil {
		return err
	}
	if creds != nil {
		creds.BeforeCreate = c.beforeCreate
	}
	req.Credentials = creds
	if sig != "" {
		signed := p.flatten()
		req.Signed = func(secret string) bool { return verifySignature(secret, signed, sig) }
	}
	created := h.watchCreate(creds)
	s, err := h.id.CreateSession(ctx, req)
	h.observeLogin(creds, err, created)
	if err != nil {
		return err
	}
	setExpiration(c.w, s)
	return writeSession(c.w, http.StatusCreated, s)
}

// readCredentials reads user credentials: login, email, password, guest and full_name from
// user (the "user" object of POST /session, the top level of POST /login), provider from the
// top level with its parameters (keys[token], keys[secret] → "token", "secret"; the object
// named after the provider, e.g. firebase_phone[project_id] → "project_id"). It returns nil
// when nothing asks for a user (an application session).
func readCredentials(f fieldErrs, top, user params) *identity.Credentials {
	c := &identity.Credentials{}
	want := false
	if user != nil {
		c.Login = strings.TrimSpace(f.str(user, "login", "login"))
		c.Email = strings.TrimSpace(f.str(user, "email", "email"))
		c.Password = f.str(user, "password", "password")
		c.FullName = strings.TrimSpace(f.str(user, "full_name", "full_name"))
		c.Guest = asBool(user["guest"])
		want = c.Login != "" || c.Email != "" || c.Password != "" || c.Guest
	}
	c.Provider = strings.TrimSpace(f.str(top, "provider", "provider"))
	if c.Provider != "" {
		want = true
		c.Params = map[string]string{}
		if keys := top.object("keys"); keys != nil {
			for _, k := range [...]string{"token", "secret"} {
				if s := f.str(keys, k, "keys["+k+"]"); s != "" {
					c.Params[k] = s
				}
			}
		}
		if obj := top.object(c.Provider); obj != nil {
			for k, v := range obj {
				if s, ok := asString(v); ok && s != "" {
					c.Params[k] = s
				}
			}
		}
	}
	if !want {
		return nil
	}
	return c
}

// getSession is GET /session.
func (h *handler) getSession(_ context.Context, c *call) error {
	return writeSession(c.w, http.StatusOK, c.s)
}

// destroySession is DELETE /session. The token is gone afterwards, so the response carries
// no CB-Token-ExpirationDate.
func (h *handler) destroySession(ctx context.Context, c *call) error {
	if err := h.id.DestroySession(ctx, c.s); err != nil {
		return err
	}
	c.w.Header().Del(headerExpiration)
	writeEmpty(c.w)
	return nil
}

// revokeSession is DELETE /session/{id}: a session of the caller's user (or the caller's
// own session). Another user's or an unknown session is 404.
func (h *handler) revokeSession(ctx context.Context, c *call) error {
	id, err := strconv.ParseInt(pathValue(c.r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return identity.ErrNotFound
	}
	if err := h.id.RevokeSession(ctx, c.s, id); err != nil {
		return err
	}
	if id == c.s.ID {
		c.w.Header().Del(headerExpiration)
	}
	writeEmpty(c.w)
	return nil
}

// revokeOtherSessions is DELETE /session/list: every session of the caller's user except
// the current one.
func (h *handler) revokeOtherSessions(ctx context.Context, c *call) error {
	if _, err := h.id.RevokeOtherSessions(ctx, c.s); err != nil {
		return err
	}
	writeEmpty(c.w)
	return nil
}

// login is POST /login: the application session becomes a user session (same token) for
// the credentials at the top level of the body ({"login":..,"password":..}, provider forms
// as for POST /session; a "user" object is accepted too). Answers 202 with {"user":{...}}.
func (h *handler) login(ctx context.Context, c *call) error {
	f := fieldErrs{}
	creds := readCredentials(f, c.p, loginSource(c.p))
	if err := f.err("login"); err != nil {
		return err
	}
	if creds == nil {
		creds = &identity.Credentials{}
	}
	creds.BeforeCreate = c.beforeCreate
	created := h.watchCreate(creds)
	s, err := h.id.Login(ctx, c.s, *creds)
	h.observeLogin(creds, err, created)
	if err != nil {
		return err
	}
	setExpiration(c.w, s)
	return writeUser(c.w, http.StatusAccepted, s.User)
}

// loginSource returns where POST /login's login, email and password are: the top level, or
// the "user" object when the top level has neither login nor email.
func loginSource(p params) params {
	if _, ok := p["login"]; ok {
		return p
	}
	if _, ok := p["email"]; ok {
		return p
	}
	if u := p.object("user"); u != nil {
		return u
	}
	return p
}

// logout is DELETE /login: the user session becomes an application session again.
func (h *handler) logout(ctx context.Context, c *call) error {
	s, err := h.id.Logout(ctx, c.s)
	if err != nil {
		return err
	}
	setExpiration(c.w, s)
	writeEmpty(c.w)
	return nil
}

package httpadapter

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/passwordreset"
	"github.com/identitykit/identity/ratelimit"
)

// Password reset: the ConnectyCube request endpoint (JSON API) and the reset page (HTML) the
// mailed link opens.

//go:embed reset_pages.html
var defaultResetPagesHTML string

// defaultResetPages is parsed once; it cannot fail (tests execute it).
var defaultResetPages = template.Must(template.New("reset_pages").Parse(defaultResetPagesHTML))

// resetPageNames are the templates a Config.ResetPages set must define.
var resetPageNames = []string{"password_reset_form", "password_reset_done", "password_reset_invalid"}

// resetPageCSP allows nothing but the page's own nonce-marked style and posting the form
// back to this origin; frame-ancestors forbids framing (clickjacking).
const resetPageCSP = "default-src 'none'; style-src 'nonce-%s'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// maxResetFormBytes bounds the reset form's body (a token and two passwords).
const maxResetFormBytes = 16 << 10

// resetRoutes registers the reset endpoints. The request endpoint goes through the
// rate-limit policy (429 per client address and per (email, address) floods) and then
// identity's own per-email and per-client limits, which answer 200 without sending mail.
func (h *handler) resetRoutes() {
	h.handle("POST /users/password/reset", authOptional, h.limited(limitReset, h.requestPasswordReset))
	h.handle("GET /users/password/reset", authOptional, h.limited(limitReset, h.requestPasswordReset))
	pages := h.cfg.ResetPages
	if pages == nil {
		pages = defaultResetPages
	}
	for _, name := range resetPageNames {
		if pages.Lookup(name) == nil {
			panic("httpadapter: Config.ResetPages does not define the template " + name)
		}
	}
	h.resetPages = pages
	h.mux.Handle("GET /password_reset", page(h.resetForm))
	h.mux.Handle("POST /password_reset", page(h.resetSubmit))
	h.patterns = append(h.patterns, "GET /password_reset", "POST /password_reset")
}

// requestPasswordReset is GET or POST /users/password/reset (email in the query or in a JSON
// or form body). The application is the session's (CB-Token, an application session is
// enough) or, without a token, the one CB-AuthKey names. It answers 200 with an empty body
// whether or not a user has the address: the mail is sent by the reset service's queue.
// Without Config.Reset it is 403 {"errors":{"base":["password reset by email is not
// configured"]}}.
func (h *handler) requestPasswordReset(ctx context.Context, c *call) error {
	appID, err := h.callApp(ctx, c)
	if err != nil {
		return err
	}
	f := fieldErrs{}
	src := c.p
	if _, ok := src["email"]; !ok {
		src = userObject(c.p)
	}
	email := f.str(src, "email", "email")
	if err := f.err("request password reset"); err != nil {
		return err
	}
	if h.cfg.Reset == nil {
		return identity.NewError("request password reset", identity.ErrDisabled, "", "reset_off")
	}
	if err := h.cfg.Reset.Request(ctx, appID, email, h.clientAddr(c.r)); err != nil {
		return err
	}
	writeEmpty(c.w)
	return nil
}

// callApp returns the application of an authOptional call: the session's, or the one the
// CB-AuthKey header names; neither is 401 "Required session does not exist", so that the
// SDK's sessionExpired hook can create a session and retry.
func (h *handler) callApp(ctx context.Context, c *call) (int64, error) {
	if c.s != nil {
		return c.s.ApplicationID, nil
	}
	key := strings.TrimSpace(c.r.Header.Get("CB-AuthKey"))
	if key == "" {
		return 0, identity.ErrSessionNotFound
	}
	app, err := h.id.ApplicationByAuthKey(ctx, key)
	if err != nil {
		return 0, err
	}
	return app.ID, nil
}

// resetPageData is what the reset page templates are executed with.
type resetPageData struct {
	Title        string
	AppName      string
	Email        string
	Token        string
	Errors       []string
	PasswordHint string
	Nonce        string
}

// page adapts a handler that writes its own responses to the adapter's routing (see
// respWriter).
func page(fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rw, ok := w.(*respWriter); ok {
			rw.routed, rw.route = true, r.Pattern
		}
		fn(w, r)
	})
}

// wantsHTML reports whether r comes from a browser (it accepts HTML, as every navigation and
// form submission does). Other clients of /password_reset (an application with its own
// reset screen, curl) get ConnectyCube JSON instead of pages.
func wantsHTML(r *http.Request) bool {
	a := strings.ToLower(r.Header.Get("Accept"))
	return strings.Contains(a, "text/html") || strings.Contains(a, "application/xhtml+xml")
}

// resetForm is GET /password_reset?token=...: the form to choose a new password, or the page
// saying the link no longer works.
func (h *handler) resetForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	app, u, err := h.checkResetToken(r.Context(), token)
	if err != nil {
		h.resetFailure(w, r, err, &resetPageData{})
		return
	}
	h.renderReset(w, r, http.StatusOK, "password_reset_form", formData(app, u, token, nil))
}

// resetSubmit is POST /password_reset with token, password and password_confirmation (a form
// from the page, or JSON): sets the password and shows the success page (JSON clients: 200,
// empty); a policy violation or a mismatch shows the form again with the messages.
func (h *handler) resetSubmit(w http.ResponseWriter, r *http.Request) {
	// Setting a password hashes it: the page is charged to the client's reset volume.
	if h.lim != nil && h.lim.p != nil {
		if _, err := h.lim.p.Begin(r.Context(), ratelimit.ActionReset, h.clientAddr(r), ""); err != nil {
			if !wantsHTML(r) || !errors.Is(err, ratelimit.ErrLimited) {
				writeError(w, r, h.log, err)
				return
			}
			w.Header().Set("Retry-After", strconv.Itoa(limitRetryAfter(err, 1)))
			h.renderReset(w, r, http.StatusTooManyRequests, "password_reset_invalid",
				&resetPageData{Title: "Too many attempts", Errors: []string{"Too many attempts from your network. Please try again in a few minutes."}})
			return
		}
	}
	p, err := decodeParams(w, r, maxResetFormBytes)
	if err != nil {
		if !wantsHTML(r) {
			writeError(w, r, h.log, err)
			return
		}
		status, title := http.StatusBadRequest, "Bad request"
		if errors.Is(err, errTooLarge) {
			status, title = http.StatusRequestEntityTooLarge, "Request too large"
		}
		h.renderReset(w, r, status, "password_reset_invalid", &resetPageData{Title: title})
		return
	}
	field := func(k string) string {
		v, _ := asString(p[k])
		return v
	}
	token, pw, confirm := field("token"), field("password"), field("password_confirmation")
	app, u, err := h.checkResetToken(r.Context(), token)
	if err != nil {
		h.resetFailure(w, r, err, &resetPageData{})
		return
	}
	if _, ok := p["password_confirmation"]; (ok || wantsHTML(r)) && pw != confirm {
		if !wantsHTML(r) {
			writeError(w, r, h.log, wireFieldError("reset password", identity.ErrInvalidInput, "password_confirmation", "doesn't match password"))
			return
		}
		h.renderReset(w, r, http.StatusUnprocessableEntity, "password_reset_form",
			formData(app, u, token, []string{"The two passwords do not match."}))
		return
	}
	if err := h.cfg.Reset.Reset(r.Context(), token, pw); err != nil {
		h.resetFailure(w, r, err, formData(app, u, token, nil))
		return
	}
	if !wantsHTML(r) {
		writeEmpty(w)
		return
	}
	h.renderReset(w, r, http.StatusOK, "password_reset_done", &resetPageData{Title: "Password changed", AppName: app.Name})
}

// checkResetToken is Config.Reset's Check; without Config.Reset no token is usable.
func (h *handler) checkResetToken(ctx context.Context, token string) (*identity.Application, *identity.User, error) {
	if h.cfg.Reset == nil {
		return nil, nil, passwordreset.ErrInvalidToken
	}
	return h.cfg.Reset.Check(ctx, token)
}

func formData(app *identity.Application, u *identity.User, token string, errs []string) *resetPageData {
	minLen, maxLen := app.Settings.PasswordPolicy.Limits()
	return &resetPageData{
		Title:        "Choose a new password",
		AppName:      app.Name,
		Email:        u.Email,
		Token:        token,
		Errors:       errs,
		PasswordHint: fmt.Sprintf("Between %d and %d characters.", minLen, maxLen),
	}
}

// resetFailure shows the page for err: the invalid-link page (410 Gone) for an unusable
// token, the form again with the messages for a policy violation (422), the form with a
// retry message when the server is busy or unavailable (503), and otherwise a logged 500.
// A client that does not accept HTML gets the error as ConnectyCube JSON: an unusable token
// is 422 {"errors":{"token":["is invalid or has expired"]}}.
func (h *handler) resetFailure(w http.ResponseWriter, r *http.Request, err error, form *resetPageData) {
	if !wantsHTML(r) {
		if errors.Is(err, passwordreset.ErrInvalidToken) {
			err = wireFieldError("reset password", identity.ErrInvalidInput, "token", "is invalid or has expired")
		}
		writeError(w, r, h.log, err)
		return
	}
	var ie *identity.Error
	switch {
	case errors.Is(err, passwordreset.ErrInvalidToken):
		h.renderReset(w, r, http.StatusGone, "password_reset_invalid", &resetPageData{Title: "Link expired", AppName: form.AppName})
	case errors.Is(err, identity.ErrInvalidInput) && errors.As(err, &ie) && form.Token != "":
		var msgs []string
		for _, f := range ie.Fields {
			if f.Field == "password" {
				msgs = append(msgs, "The password "+codeText(f)+".")
			}
		}
		if len(msgs) == 0 {
			msgs = []string{"The password is invalid."}
		}
		form.Errors = msgs
		h.renderReset(w, r, http.StatusUnprocessableEntity, "password_reset_form", form)
	case errors.Is(err, identity.ErrBusy), errors.Is(err, identity.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", "5")
		if form.Token == "" {
			form = &resetPageData{Title: "Try again", Errors: []string{"The service is busy. Please reload this page in a moment."}}
			h.renderReset(w, r, http.StatusServiceUnavailable, "password_reset_invalid", form)
			return
		}
		form.Errors = []string{"The service is busy. Please submit the form again in a moment."}
		h.renderReset(w, r, http.StatusServiceUnavailable, "password_reset_form", form)
	default:
		h.log.ErrorContext(r.Context(), "httpadapter: password reset page", "method", r.Method, "path", r.URL.Path, "err", err)
		if form.Token != "" {
			form.Errors = []string{"Something went wrong on our side. Please try again."}
			h.renderReset(w, r, http.StatusInternalServerError, "password_reset_form", form)
			return
		}
		h.renderReset(w, r, http.StatusInternalServerError, "password_reset_invalid", &resetPageData{Title: "Error"})
	}
}

// renderReset executes the page template name into a buffer and sends it with the security
// headers: a CSP with a fresh nonce, no referrer, no caching, no framing, no sniffing.
func (h *handler) renderReset(w http.ResponseWriter, r *http.Request, status int, name string, d *resetPageData) {
	nonce := make([]byte, 16)
	rand.Read(nonce)
	d.Nonce = base64.RawURLEncoding.EncodeToString(nonce)
	var b bytes.Buffer
	if err := h.resetPages.ExecuteTemplate(&b, name, d); err != nil {
		h.log.ErrorContext(r.Context(), "httpadapter: password reset page template", "template", name, "err", err)
		status = http.StatusInternalServerError
		b.Reset()
		b.WriteString("<!DOCTYPE html><title>Error</title><p>Internal Server Error</p>\n")
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", fmt.Sprintf(resetPageCSP, d.Nonce))
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(b.Bytes())
	}
}

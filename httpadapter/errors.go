package httpadapter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
	"github.com/identitykit/identity/ratelimit"
)

// Error body shapes: ConnectyCube answers errors in three shapes, and the SDKs read
// errors.base[0] to detect an expired session.
const (
	// shapeBase is {"errors":{"base":["msg"]}}.
	shapeBase = iota
	// shapeFlat is {"errors":["msg"]}.
	shapeFlat
	// shapeFields is {"errors":{"field":["msg",...]}} from an *identity.Error's Fields (key ""
	// becomes the flat shape); without fields the rule's message is sent flat.
	shapeFields
)

// errorRule maps errors matching target (errors.Is) to a status and a body.
type errorRule struct {
	target error
	status int
	shape  int
	msg    string
	// retryAfter, in seconds, is sent as Retry-After when not 0.
	retryAfter int
	// flatBase sends a lone "base" field message in the flat shape ({"errors":["msg"]}), as
	// ConnectyCube does for "Unexpected signature".
	flatBase bool
}

// errorTable is the one place where errors become HTTP statuses and ConnectyCube error
// bodies: no other package knows statuses or wire messages. The first matching rule wins,
// so children precede parents (ErrNeedUser before ErrForbidden). Anything unmatched is a 500 whose cause is logged and
// never sent.
var errorTable = []errorRule{
	{target: identity.ErrSessionNotFound, status: http.StatusUnauthorized, shape: shapeBase, msg: msgSessionNotFound},
	{target: identity.ErrNeedUser, status: http.StatusForbidden, shape: shapeBase, msg: "Forbidden. Need user."},
	{target: blob.ErrInvalidGrant, status: http.StatusForbidden, shape: shapeFields, msg: "Upload grant is invalid"},
	{target: identity.ErrForbidden, status: http.StatusForbidden, shape: shapeBase, msg: "Forbidden. Users may only act on their own account."},
	// A remote identity service (a Custom Identity Provider) refused: the provider's message,
	// carried in the *identity.Error, goes to the client, as ConnectyCube passes on its Custom
	// Identity Provider's failures ("Bad Authentication data. Unauthorized on remote side.
	// Status: N"); provider/cidp puts the service's status in it, never its answer's body.
	{target: identity.ErrRejectedByProvider, status: http.StatusUnprocessableEntity, shape: shapeFields, msg: "Bad Authentication data. Unauthorized on remote side"},
	// Credentials that prove a blocked user (the core returns this only once the provider
	// accepted them, so a wrong password never learns of the block).
	{target: identity.ErrUserBlocked, status: http.StatusUnauthorized, shape: shapeFlat, msg: "Unauthorized. The account is blocked."},
	// Unknown user and wrong password are one error with one body.
	{target: identity.ErrInvalidCredentials, status: http.StatusUnauthorized, shape: shapeFlat, msg: "Unauthorized"},
	{target: identity.ErrApplicationNotFound, status: http.StatusUnauthorized, shape: shapeFlat, msg: "Unknown application or invalid auth key"},
	{target: identity.ErrInvalidSignature, status: http.StatusUnprocessableEntity, shape: shapeFields, msg: "Unexpected signature", flatBase: true},
	{target: identity.ErrUserExists, status: http.StatusUnprocessableEntity, shape: shapeFields, msg: "User already exists"},
	{target: identity.ErrInvalidInput, status: http.StatusUnprocessableEntity, shape: shapeFields, msg: "Invalid input parameters"},
	{target: identity.ErrUnknownProvider, status: http.StatusUnprocessableEntity, shape: shapeFields, msg: "Unsupported provider"},
	{target: identity.ErrUserNotFound, status: http.StatusNotFound, shape: shapeFlat, msg: "User not found"},
	{target: identity.ErrNotFound, status: http.StatusNotFound, shape: shapeFlat, msg: "Not found"},
	{target: identity.ErrDisabled, status: http.StatusForbidden, shape: shapeFields, msg: "Disabled by application settings"},
	{target: identity.ErrBusy, status: http.StatusServiceUnavailable, shape: shapeFlat, msg: "Server busy, retry later", retryAfter: 1},
	// A rate limit refused the request (ratelimit.go); Retry-After is the limit's own.
	{target: ratelimit.ErrLimited, status: http.StatusTooManyRequests, shape: shapeBase, msg: "Too many requests, retry later", retryAfter: 1},
	{target: identity.ErrUnavailable, status: http.StatusServiceUnavailable, shape: shapeFlat, msg: "Service temporarily unavailable, retry later", retryAfter: 5},
	{target: context.DeadlineExceeded, status: http.StatusServiceUnavailable, shape: shapeFlat, msg: "Service temporarily unavailable, retry later", retryAfter: 5},
	{target: context.Canceled, status: http.StatusServiceUnavailable, shape: shapeFlat, msg: "Request canceled"},
	{target: blob.ErrTooLarge, status: http.StatusRequestEntityTooLarge, shape: shapeFields, msg: "Request entity too large"},
	{target: errTooLarge, status: http.StatusRequestEntityTooLarge, shape: shapeFlat, msg: "Request entity too large"},
	{target: errBadRequest, status: http.StatusBadRequest, shape: shapeFlat, msg: "Bad request"},
	{target: errRouteNotFound, status: http.StatusNotFound, shape: shapeFlat, msg: "Not found"},
	{target: errMethodNotAllowed, status: http.StatusMethodNotAllowed, shape: shapeFlat, msg: "Method not allowed"},
}

const msgSessionNotFound = "Required session does not exist"

var (
	errRouteNotFound    = errors.New("httpadapter: no such endpoint")
	errMethodNotAllowed = errors.New("httpadapter: method not allowed")
)

var internalErrorBody = []byte(`{"errors":{"base":["Internal Server Error"]}}`)

// writeError answers err through errorTable. A 500 logs err at Error level (with the method
// and path) and sends only "Internal Server Error"; other errors are logged at Debug level.
// Errors of this module never carry credentials (see identity.Provider).
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status, body, retry := renderError(err)
	h := w.Header()
	h.Set("Content-Type", contentTypeJSON)
	if retry > 0 {
		h.Set("Retry-After", strconv.Itoa(retry))
	}
	if status == http.StatusInternalServerError {
		log.ErrorContext(r.Context(), "httpadapter: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	} else if log.Enabled(r.Context(), slog.LevelDebug) {
		log.DebugContext(r.Context(), "httpadapter: request refused", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	w.WriteHeader(status)
	w.Write(body)
}

// renderError returns the status, the JSON body and the Retry-After seconds (0: none) for err.
func renderError(err error) (status int, body []byte, retryAfter int) {
	for i := range errorTable {
		rule := &errorTable[i]
		if !errors.Is(err, rule.target) {
			continue
		}
		var v any
		switch rule.shape {
		case shapeBase:
			v = keyedErrors{"base": {rule.msg}}
		case shapeFlat:
			msg := rule.msg
			var br *badRequest
			if errors.As(err, &br) {
				msg = "Bad request: " + br.Msg
			}
			v = flatErrors{msg}
		case shapeFields:
			v = fieldsBody(err, rule)
		}
		b, mErr := json.Marshal(errorsBody{Errors: v})
		if mErr != nil {
			break
		}
		return rule.status, b, limitRetryAfter(err, rule.retryAfter)
	}
	return http.StatusInternalServerError, internalErrorBody, 0
}

type (
	errorsBody struct {
		Errors any `json:"errors"`
	}
	flatErrors  []string
	keyedErrors map[string][]string
)

// fieldsBody renders the field messages of err (see messages): messages under the key ""
// (and, with flatBase, a lone "base") in the flat shape, others keyed by field. Messages
// under "" mixed with field messages go under "base".
func fieldsBody(err error, rule *errorRule) any {
	fields, ok := messages(err)
	if !ok {
		return flatErrors{rule.msg}
	}
	flat := append([]string(nil), fields[""]...)
	keyed := keyedErrors{}
	for k, msgs := range fields {
		if k != "" && len(msgs) > 0 {
			keyed[k] = msgs
		}
	}
	if rule.flatBase && len(keyed) == 1 && len(keyed["base"]) > 0 {
		flat = append(flat, keyed["base"]...)
		delete(keyed, "base")
	}
	switch {
	case len(keyed) == 0 && len(flat) > 0:
		return flatErrors(flat)
	case len(keyed) == 0:
		return flatErrors{rule.msg}
	}
	if len(flat) > 0 {
		keyed["base"] = append(flat, keyed["base"]...) // flat is our own copy
	}
	return keyed
}

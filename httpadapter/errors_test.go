package httpadapter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/identitykit/identity"
)

func TestRenderError(t *testing.T) {
	storeFailure := errors.New("gormstore: insert: connection to 10.0.0.5 refused (password=hunter2)")
	tests := []struct {
		name  string
		err   error
		code  int
		body  string
		retry int
	}{
		{"session not found", identity.ErrSessionNotFound, 401, `{"errors":{"base":["Required session does not exist"]}}`, 0},
		{"wrapped session not found", fmt.Errorf("x: %w", identity.ErrSessionNotFound), 401, `{"errors":{"base":["Required session does not exist"]}}`, 0},
		{"need user", identity.ErrNeedUser, 403, `{"errors":{"base":["Forbidden. Need user."]}}`, 0},
		{"forbidden", &identity.Error{Op: "update user", Err: identity.ErrForbidden}, 403, `{"errors":{"base":["Forbidden. Users may only act on their own account."]}}`, 0},
		{"invalid credentials", identity.ErrInvalidCredentials, 401, `{"errors":["Unauthorized"]}`, 0},
		{"invalid credentials never shows fields",
			&identity.Error{Err: identity.ErrInvalidCredentials, Fields: []identity.FieldError{{Field: "login", Code: "invalid"}}}, 401, `{"errors":["Unauthorized"]}`, 0},
		{"rejected by the identity provider, flat", &identity.Error{Op: "cidp", Err: identity.ErrRejectedByProvider, Fields: []identity.FieldError{{Code: "remote_refused", Limit: 404}}},
			422, `{"errors":["Bad Authentication data. Unauthorized on remote side. Status: 404."]}`, 0},
		{"rejected by the identity provider, base", identity.NewError("cidp", identity.ErrRejectedByProvider, "uid", "blank"),
			422, `{"errors":{"base":["Custom Identity Provider uid is required"]}}`, 0},
		{"rejected by the identity provider, long uid", &identity.Error{Op: "cidp", Err: identity.ErrRejectedByProvider, Fields: []identity.FieldError{{Field: "uid", Code: "too_long", Limit: 255}}},
			422, `{"errors":{"base":["Custom Identity Provider uid is too long (maximum is 255 characters)"]}}`, 0},
		{"rejected by the identity provider, mapping", identity.NewError("cidp", identity.ErrRejectedByProvider, "login", "bad_mapping"),
			422, `{"errors":{"base":["Custom Identity Provider response param login is invalid"]}}`, 0},
		{"rejected without detail", identity.ErrRejectedByProvider, 422, `{"errors":["Bad Authentication data. Unauthorized on remote side"]}`, 0},
		{"blocked user", identity.ErrUserBlocked, 401, `{"errors":["Unauthorized. The account is blocked."]}`, 0},
		{"application not found", identity.ErrApplicationNotFound, 401, `{"errors":["Unknown application or invalid auth key"]}`, 0},
		{"bad signature is flat", identity.NewError("v", identity.ErrInvalidSignature, "signature", "invalid"), 422, `{"errors":["Unexpected signature"]}`, 0},
		{"bad timestamp is keyed", identity.NewError("v", identity.ErrInvalidSignature, "timestamp", "invalid"), 422, `{"errors":{"timestamp":["is invalid"]}}`, 0},
		{"bare signature error", identity.ErrInvalidSignature, 422, `{"errors":["Unexpected signature"]}`, 0},
		{"field errors", &identity.Error{Err: identity.ErrInvalidInput, Fields: []identity.FieldError{{Field: "login", Code: "too_short", Limit: 3}, {Field: "password", Code: "blank"}}},
			422, `{"errors":{"login":["is too short (minimum is 3 characters)"],"password":["cannot be blank"]}}`, 0},
		{"base stays keyed for input errors", identity.NewError("x", identity.ErrInvalidInput, "", "login_or_email_required"), 422, `{"errors":{"base":["login or email is required"]}}`, 0},
		{"adapter messages under the empty key are flat", wireFieldError("firebase", identity.ErrInvalidInput, "", "Bad Authentication data."), 422, `{"errors":["Bad Authentication data."]}`, 0},
		{"missing parameters are one flat message", &identity.Error{Err: identity.ErrInvalidInput, Fields: []identity.FieldError{{Field: "firebase_phone[access_token]", Code: "missing"}, {Field: "firebase_phone[project_id]", Code: "missing"}}},
			422, `{"errors":["Bad Authentication data. Invalid input parameters provided: no 'firebase_phone[access_token]' and 'firebase_phone[project_id]' parameters provided"]}`, 0},
		{"a missing parameter", identity.NewError("x", identity.ErrInvalidInput, "firebase_email[project_id]", "missing"),
			422, `{"errors":["Bad Authentication data. Invalid input parameters provided: no 'firebase_email[project_id]' parameter provided"]}`, 0},
		{"whole-input problem goes under base", identity.NewError("x", identity.ErrInvalidInput, "", "invalid"), 422, `{"errors":{"base":["is invalid"]}}`, 0},
		{"units of too_long", &identity.Error{Err: identity.ErrInvalidInput, Fields: []identity.FieldError{{Field: "custom_data", Code: "too_long", Limit: 9}, {Field: "tag_list", Code: "too_long", Limit: 5}, {Field: "email", Code: "too_long", Limit: 7}}},
			422, `{"errors":{"custom_data":["is too long (maximum is 9 bytes)"],"email":["is too long (maximum is 7 characters)"],"tag_list":["is too long (maximum is 5 tags)"]}}`, 0},
		{"provider disabled", identity.NewError("x", identity.ErrDisabled, "cidp", "disabled"), 403, `{"errors":{"base":["Custom Identity Provider is not enabled for this application"]}}`, 0},
		{"sign up disabled", identity.NewError("x", identity.ErrDisabled, "", "sign_up_disabled"), 403, `{"errors":{"base":["Sign up is disabled for this application"]}}`, 0},
		{"unknown code reads as invalid", identity.NewError("x", identity.ErrInvalidInput, "login", "some_new_code"), 422, `{"errors":{"login":["is invalid"]}}`, 0},
		{"empty key mixed with fields goes to base", &wireError{op: "x", err: identity.ErrInvalidInput, fields: map[string][]string{"": {"general"}, "login": {"bad"}}},
			422, `{"errors":{"base":["general"],"login":["bad"]}}`, 0},
		{"input error without fields", identity.ErrInvalidInput, 422, `{"errors":["Invalid input parameters"]}`, 0},
		{"user exists", identity.NewError("x", identity.ErrUserExists, "email", "taken"), 422, `{"errors":{"email":["has already been taken"]}}`, 0},
		{"unknown provider", identity.NewError("x", identity.ErrUnknownProvider, "provider", "unsupported"), 422, `{"errors":{"provider":["is not supported"]}}`, 0},
		{"user not found", identity.ErrUserNotFound, 404, `{"errors":["User not found"]}`, 0},
		{"not found", &identity.Error{Err: identity.ErrNotFound}, 404, `{"errors":["Not found"]}`, 0},
		{"disabled", wireFieldError("x", identity.ErrDisabled, "base", "Users retrieving forbidden"), 403, `{"errors":{"base":["Users retrieving forbidden"]}}`, 0},
		{"busy", fmt.Errorf("hash: %w", identity.ErrBusy), 503, `{"errors":["Server busy, retry later"]}`, 1},
		{"unavailable", fmt.Errorf("gormstore: %w: dial tcp: refused", identity.ErrUnavailable), 503, `{"errors":["Service temporarily unavailable, retry later"]}`, 5},
		{"deadline", context.DeadlineExceeded, 503, `{"errors":["Service temporarily unavailable, retry later"]}`, 5},
		{"too large", errTooLarge, 413, `{"errors":["Request entity too large"]}`, 0},
		{"bad request", badf("malformed JSON body"), 400, `{"errors":["Bad request: malformed JSON body"]}`, 0},
		{"no route", errRouteNotFound, 404, `{"errors":["Not found"]}`, 0},
		{"method", errMethodNotAllowed, 405, `{"errors":["Method not allowed"]}`, 0},
		{"internal", storeFailure, 500, `{"errors":{"base":["Internal Server Error"]}}`, 0},
		{"nil fields map", &identity.Error{Err: errors.New("weird")}, 500, `{"errors":{"base":["Internal Server Error"]}}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, retry := renderError(tt.err)
			if code != tt.code || string(body) != tt.body || retry != tt.retry {
				t.Fatalf("renderError = %d %s retry %d\nwant       %d %s retry %d", code, body, retry, tt.code, tt.body, tt.retry)
			}
		})
	}
}

// TestErrorTableOrder checks that no rule is shadowed by an earlier, more general one.
func TestErrorTableOrder(t *testing.T) {
	for i, rule := range errorTable {
		for _, earlier := range errorTable[:i] {
			if errors.Is(rule.target, earlier.target) {
				t.Errorf("rule for %v (status %d) is shadowed by the earlier rule for %v", rule.target, rule.status, earlier.target)
			}
		}
		if rule.status < 400 || rule.status >= 600 || rule.status == http.StatusInternalServerError {
			t.Errorf("rule for %v has status %d", rule.target, rule.status)
		}
	}
}

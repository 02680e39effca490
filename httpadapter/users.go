package httpadapter

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/query"
)

// userObject returns the "user" object of a sign-up or update body, or the top level when the
// body has no "user" object.
func userObject(p params) params {
	if u := p.object("user"); u != nil {
		return u
	}
	return p
}

// readUserInput reads the profile fields of a sign-up or update (POST /users,
// PUT /users/{id}). A field that is present sets (a null or "" clears it); an absent field
// is left alone.
func readUserInput(f fieldErrs, u params) identity.UserInput {
	var in identity.UserInput
	str := func(key string, dst **string) {
		if _, ok := u[key]; !ok {
			return
		}
		s := f.str(u, key, key)
		*dst = &s
	}
	str("login", &in.Login)
	str("email", &in.Email)
	str("password", &in.Password)
	str("old_password", &in.OldPassword)
	str("full_name", &in.FullName)
	str("phone", &in.Phone)
	str("website", &in.Website)
	str("external_id", &in.ExternalID)
	str("facebook_id", &in.FacebookID)
	str("twitter_id", &in.TwitterID)
	str("avatar", &in.Avatar)
	if v, ok := u["custom_data"]; ok {
		// custom_data is a string; an object or list is stored as its JSON text.
		s, ok := asString(v)
		if !ok {
			b, err := json.Marshal(v)
			if err != nil {
				f.add("custom_data", "is invalid")
			}
			s = string(b)
		}
		in.CustomData = &s
	}
	i64 := func(key string, dst **int64) {
		v, ok := u[key]
		if !ok {
			return
		}
		var n int64
		if s, _ := asString(v); strings.TrimSpace(s) != "" {
			if n, ok = asInt64(v); !ok {
				f.add(key, "is invalid")
			}
		}
		*dst = &n
	}
	i64("external_user_id", &in.ExternalUserID)
	i64("blob_id", &in.BlobID)
	if v, ok := u["timezone"]; ok {
		if s, _ := asString(v); strings.TrimSpace(s) != "" {
			n, ok := asInt64(v)
			if !ok || n < identity.MinTimezone || n > identity.MaxTimezone {
				f.add("timezone", "is invalid")
			} else {
				tz := int(n)
				in.Timezone = &tz
			}
		}
	}
	for _, key := range [...]string{"tag_list", "user_tags"} {
		v, ok := u[key]
		if !ok {
			continue
		}
		tags, ok := asStrings(v)
		if !ok {
			f.add("tag_list", "is invalid")
		}
		if v == nil {
			tags = []string{}
		}
		in.Tags = &tags
		break
	}
	return in
}

// signUp is POST /users. With a session (CB-Token) the user joins the session's
// application; without one, CB-AuthKey names the application. Answers 201 {"user":{...}}.
func (h *handler) signUp(ctx context.Context, c *call) error {
	var appID int64
	if c.s != nil {
		appID = c.s.ApplicationID
	} else {
		key := strings.TrimSpace(c.r.Header.Get("CB-AuthKey"))
		if key == "" {
			return identity.ErrSessionNotFound
		}
		app, err := h.id.ApplicationByAuthKey(ctx, key)
		if err != nil {
			return err
		}
		appID = app.ID
	}
	f := fieldErrs{}
	in := readUserInput(f, userObject(c.p))
	if err := f.err("sign up"); err != nil {
		return err
	}
	u, err := h.id.SignUp(ctx, appID, in)
	if err != nil {
		return err
	}
	if h.obs != nil {
		h.obs.ObserveSignUp("password")
	}
	return writeUser(c.w, http.StatusCreated, u)
}

// userID reads the {id} wildcard; a malformed id names no user.
func userID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(pathValue(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, identity.ErrUserNotFound
	}
	return id, nil
}

// getUser is GET /users/{id}: any user of the session's application.
func (h *handler) getUser(ctx context.Context, c *call) error {
	id, err := userID(c.r)
	if err != nil {
		return err
	}
	if id != c.s.UserID || c.s.UserID == 0 {
		// Another user by id is part of the V1 users API.
		if err := h.v1Enabled(ctx, c, "user"); err != nil {
			return h.searchErr(ctx, c, err)
		}
	}
	u, err := h.id.User(ctx, c.s, id)
	if err != nil {
		return err
	}
	return writeUser(c.w, http.StatusOK, u)
}

// updateUser is PUT /users/{id}: the session's own user only. Answers 200 {"user":{...}}.
func (h *handler) updateUser(ctx context.Context, c *call) error {
	id, err := userID(c.r)
	if err != nil {
		return err
	}
	f := fieldErrs{}
	in := readUserInput(f, userObject(c.p))
	if err := f.err("update user"); err != nil {
		return err
	}
	u, err := h.id.UpdateUser(ctx, c.s, id, in)
	if err != nil {
		return err
	}
	return writeUser(c.w, http.StatusOK, u)
}

// deleteUser is DELETE /users/{id}: the session's own user only. Answers an empty 200;
// the session is gone with the user.
func (h *handler) deleteUser(ctx context.Context, c *call) error {
	id, err := userID(c.r)
	if err != nil {
		return err
	}
	if err := h.id.DeleteUser(ctx, c.s, id); err != nil {
		return err
	}
	c.w.Header().Del(headerExpiration)
	writeEmpty(c.w)
	return nil
}

// deleteUserByExternalID is DELETE /users/external/{id} (deprecated numeric
// external_user_id): deletes the session's own user when it has that external user id.
func (h *handler) deleteUserByExternalID(ctx context.Context, c *call) error {
	if c.s.UserID == 0 {
		return identity.ErrNeedUser
	}
	ext, err := userID(c.r)
	if err != nil {
		return err
	}
	u, err := h.id.LookupUser(ctx, c.s, query.ExternalUserID, ext)
	if err != nil {
		return err
	}
	if err := h.id.DeleteUser(ctx, c.s, u.ID); err != nil {
		return err
	}
	c.w.Header().Del(headerExpiration)
	writeEmpty(c.w)
	return nil
}

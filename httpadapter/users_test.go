package httpadapter_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// userKeyOrder is the user object's key order observed in ConnectyCube's production API, with
// blob_id after facebook_id.
var userKeyOrder = []string{"_id", "id", "created_at", "updated_at", "last_request_at", "login", "email",
	"full_name", "phone", "custom_data", "avatar", "external_id", "timezone", "website", "twitter_id",
	"external_user_id", "facebook_id", "blob_id", "user_tags", "is_guest"}

// objectKeys returns the keys of the object at path in raw JSON, in document order.
func objectKeys(t *testing.T, raw string, path ...string) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	cur := json.RawMessage(raw)
	for _, k := range path {
		if err := json.Unmarshal(cur, &m); err != nil {
			t.Fatal(err)
		}
		cur = m[k]
	}
	dec := json.NewDecoder(strings.NewReader(string(cur)))
	var keys []string
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func user(t *testing.T, r *resp) map[string]any {
	t.Helper()
	u, ok := r.json(t)["user"].(map[string]any)
	if !ok {
		t.Fatalf("no user object in %s", r.Body)
	}
	return u
}

func TestSignUp(t *testing.T) {
	e := newEnv(t)
	// The seed's sign-up snippet, as the JavaScript SDK sends it (CB-AuthKey, no session).
	body := `{"user":{"login":"marvin18","password":"supersecurepwd","email":"awesomeman@gmail.com","full_name":"Marvin Simon",` +
		`"phone":"47802323143","website":"https://dozensofdreams.com","tag_list":["iphone","apple"],` +
		`"custom_data":"{\"middle_name\":\"Bartoleo\"}","timezone":180}}`
	r := e.do("POST", "/users.json", body, "CB-AuthKey: "+e.app.AuthKey)
	wantStatus(t, r, 201, "")
	if got := objectKeys(t, r.Body, "user"); !reflect.DeepEqual(got, userKeyOrder) {
		t.Fatalf("user keys %v\nwant %v", got, userKeyOrder)
	}
	u := user(t, r)
	want := map[string]any{
		"login": "marvin18", "email": "awesomeman@gmail.com", "full_name": "Marvin Simon", "phone": "47802323143",
		"website": "https://dozensofdreams.com", "user_tags": "iphone,apple", "custom_data": `{"middle_name":"Bartoleo"}`,
		"timezone": float64(180), "external_user_id": nil, "external_id": nil, "facebook_id": nil, "twitter_id": nil,
		"avatar": nil, "blob_id": nil, "is_guest": nil, "last_request_at": nil,
	}
	for k, v := range want {
		if u[k] != v {
			t.Errorf("%s = %#v, want %#v", k, u[k], v)
		}
	}
	if _, ok := u["password"]; ok {
		t.Error("password in the response")
	}
	if v, _ := u["created_at"].(string); !userTime.MatchString(v) {
		t.Errorf("created_at %q", v)
	}
	if len(u["_id"].(string)) != 24 {
		t.Errorf("_id %v", u["_id"])
	}
	// The new user can log in.
	wantStatus(t, e.do("POST", "/session.json", e.sessionBody(`,"user":{"login":"marvin18","password":"supersecurepwd"}`)), 201, "")

	// Form encoding, bare path, with an application session token, string numbers, tags as a
	// comma list.
	tok := e.appSession()
	r = e.do("POST", "/users", "user[login]=dacia&user[password]=petU4or!x&user[timezone]=-60&user[tag_list]=a,b&user[external_user_id]=675373912&user[website]=pavalli.com.au",
		"CB-Token: "+tok)
	wantStatus(t, r, 201, "")
	u = user(t, r)
	if u["timezone"] != float64(-60) || u["user_tags"] != "a,b" || u["external_user_id"] != float64(675373912) || u["website"] != "http://pavalli.com.au" {
		t.Fatalf("user %v", u)
	}
	if r.Header.Get("CB-Token-ExpirationDate") == "" {
		t.Fatal("no expiration header on a token-bearing request")
	}
	// Tags as form arrays.
	r = e.do("POST", "/users.json", "user[login]=tagged&user[password]=12345678&user[tag_list][]=x&user[tag_list][]=y", "CB-AuthKey: "+e.app.AuthKey)
	wantStatus(t, r, 201, "")
	if user(t, r)["user_tags"] != "x,y" {
		t.Fatalf("tags %v", user(t, r)["user_tags"])
	}
}

func TestSignUpErrors(t *testing.T) {
	e := newEnv(t)
	wantStatus(t, e.do("POST", "/users.json", `{"user":{"login":"taken","password":"12345678"}}`, "CB-AuthKey: "+e.app.AuthKey), 201, "")
	key := "CB-AuthKey: " + e.app.AuthKey
	tests := []struct {
		name    string
		body    string
		headers []string
		code    int
		want    string
	}{
		{"no session, no auth key", `{"user":{"login":"a12","password":"12345678"}}`, nil, 401, bodySessionNotFound},
		{"bad auth key", `{"user":{"login":"a12","password":"12345678"}}`, []string{"CB-AuthKey: nope"}, 401, bodyUnknownApp},
		{"invalid token with auth key", `{"user":{"login":"a12","password":"12345678"}}`, []string{"CB-Token: bad", key}, 401, bodySessionNotFound},
		{"login taken (any case)", `{"user":{"login":"TAKEN","password":"12345678"}}`, []string{key}, 422, `{"errors":{"login":["has already been taken"]}}`},
		{"no password", `{"user":{"login":"a12"}}`, []string{key}, 422, `{"errors":{"password":["cannot be blank"]}}`},
		{"short password", `{"user":{"login":"a12","password":"1"}}`, []string{key}, 422, `{"errors":{"password":["is too short (minimum is 8 characters)"]}}`},
		{"no login or email", `{"user":{"password":"12345678"}}`, []string{key}, 422, `{"errors":{"base":["login or email is required"]}}`},
		{"bad timezone", `{"user":{"login":"a12","password":"12345678","timezone":"east"}}`, []string{key}, 422, `{"errors":{"timezone":["is invalid"]}}`},
		{"fractional external_user_id", `{"user":{"login":"a12","password":"12345678","external_user_id":1.5}}`, []string{key}, 422, `{"errors":{"external_user_id":["is invalid"]}}`},
		{"tags as objects", `{"user":{"login":"a12","password":"12345678","tag_list":[{"a":1}]}}`, []string{key}, 422, `{"errors":{"tag_list":["is invalid"]}}`},
		{"bad email", `{"user":{"email":"not-an-email","password":"12345678"}}`, []string{key}, 422, `{"errors":{"email":["is invalid"]}}`},
		{"login as list", `{"user":{"login":["a"],"password":"12345678"}}`, []string{key}, 422, `{"errors":{"login":["is invalid"]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantStatus(t, e.do("POST", "/users.json", tt.body, tt.headers...), tt.code, tt.want)
		})
	}
}

func TestUpdateUser(t *testing.T) {
	e := newEnv(t)
	tok, uid := e.userSession("marvin18", "supersecurepwd")
	other, _ := e.userSession("other1", "supersecurepwd")
	self := "/users/" + itoa(uid)

	// The seed's update snippet.
	r := e.do("PUT", self+".json", `{"user":{"login":"marvin18sim","full_name":"Mar Sim"}}`, "CB-Token: "+tok)
	wantStatus(t, r, 200, "")
	if u := user(t, r); u["login"] != "marvin18sim" || u["full_name"] != "Mar Sim" {
		t.Fatalf("updated %v", u)
	}
	if r.Header.Get("CB-Token-ExpirationDate") == "" {
		t.Fatal("no expiration header")
	}
	// custom_data given as an object is stored as its JSON text; null clears a field.
	r = e.do("PUT", self, `{"user":{"custom_data":{"a":1},"full_name":null}}`, "CB-Token: "+tok)
	wantStatus(t, r, 200, "")
	if u := user(t, r); u["custom_data"] != `{"a":1}` || u["full_name"] != nil {
		t.Fatalf("updated %v", u)
	}

	wantStatus(t, e.do("PUT", self, `{"user":{"full_name":"x"}}`, "CB-Token: "+other), 403, "")
	wantStatus(t, e.do("PUT", self, `{"user":{"full_name":"x"}}`, "CB-Token: "+e.appSession()), 403, bodyNeedUser)
	wantStatus(t, e.do("PUT", self, `{"user":{"full_name":"x"}}`), 401, bodySessionNotFound)
	wantStatus(t, e.do("PUT", "/users/abc", `{"user":{"full_name":"x"}}`, "CB-Token: "+tok), 404, `{"errors":["User not found"]}`)
	wantStatus(t, e.do("PUT", self, `{"user":{"login":"other1"}}`, "CB-Token: "+tok), 422, `{"errors":{"login":["has already been taken"]}}`)

	// Password change needs old_password; it ends the user's other sessions.
	second, _ := e.userSession("marvin18sim", "supersecurepwd")
	wantStatus(t, e.do("PUT", self, `{"user":{"password":"newpassword1"}}`, "CB-Token: "+tok), 422, `{"errors":{"old_password":["cannot be blank"]}}`)
	wantStatus(t, e.do("PUT", self, `{"user":{"password":"newpassword1","old_password":"wrong-old"}}`, "CB-Token: "+tok), 422, `{"errors":{"old_password":["is incorrect"]}}`)
	wantStatus(t, e.do("PUT", self, `{"user":{"password":"newpassword1","old_password":"supersecurepwd"}}`, "CB-Token: "+tok), 200, "")
	wantStatus(t, e.do("GET", "/session.json", "", "CB-Token: "+second), 401, bodySessionNotFound)
	wantStatus(t, e.do("GET", "/session.json", "", "CB-Token: "+tok), 200, "")
	wantStatus(t, e.do("POST", "/session.json", e.sessionBody(`,"user":{"login":"marvin18sim","password":"newpassword1"}`)), 201, "")
}

func TestGetUser(t *testing.T) {
	e := newEnv(t)
	tok, uid := e.userSession("john", "11111111")
	app := e.appSession()
	for _, path := range []string{"/users/" + itoa(uid), "/users/" + itoa(uid) + ".json"} {
		r := e.do("GET", path, "", "CB-Token: "+app)
		wantStatus(t, r, 200, "")
		if u := user(t, r); u["id"] != float64(uid) || u["login"] != "john" {
			t.Fatalf("user %v", u)
		}
	}
	wantStatus(t, e.do("GET", "/users/9999", "", "CB-Token: "+tok), 404, `{"errors":["User not found"]}`)
	wantStatus(t, e.do("GET", "/users/-1", "", "CB-Token: "+tok), 404, `{"errors":["User not found"]}`)
	wantStatus(t, e.do("GET", "/users/"+itoa(uid), ""), 401, bodySessionNotFound)
}

func TestDeleteUser(t *testing.T) {
	e := newEnv(t)
	tok, uid := e.userSession("john", "11111111")
	other, otherID := e.userSession("mary", "22222222")

	wantStatus(t, e.do("DELETE", "/users/"+itoa(otherID), "", "CB-Token: "+tok), 403, "")
	wantStatus(t, e.do("DELETE", "/users/"+itoa(uid), "", "CB-Token: "+e.appSession()), 403, bodyNeedUser)
	r := e.do("DELETE", "/users/"+itoa(uid)+".json", "", "CB-Token: "+tok)
	wantStatus(t, r, 200, "")
	if r.Body != "" || r.Header.Get("CB-Token-ExpirationDate") != "" {
		t.Fatalf("body %q expiration %q", r.Body, r.Header.Get("CB-Token-ExpirationDate"))
	}
	wantStatus(t, e.do("GET", "/session.json", "", "CB-Token: "+tok), 401, bodySessionNotFound)
	wantStatus(t, e.do("GET", "/users/"+itoa(uid), "", "CB-Token: "+other), 404, `{"errors":["User not found"]}`)

	// By the deprecated external user id.
	r = e.do("PUT", "/users/"+itoa(otherID), `{"user":{"external_user_id":"675373912"}}`, "CB-Token: "+other)
	wantStatus(t, r, 200, "")
	third, _ := e.userSession("third", "33333333")
	wantStatus(t, e.do("DELETE", "/users/external/675373912", "", "CB-Token: "+third), 403, "")
	wantStatus(t, e.do("DELETE", "/users/external/1", "", "CB-Token: "+other), 404, `{"errors":["User not found"]}`)
	wantStatus(t, e.do("DELETE", "/users/external/675373912", "", "CB-Token: "+e.appSession()), 403, bodyNeedUser)
	wantStatus(t, e.do("DELETE", "/users/external/675373912.json", "", "CB-Token: "+other), 200, "")
	wantStatus(t, e.do("GET", "/session.json", "", "CB-Token: "+other), 401, bodySessionNotFound)
}

// TestGetUserHonoursDisableUsersV1: GET /users/{id} of another user is part of the V1 users
// API ("Disable List Users API V1"); a user's own record stays readable.
func TestGetUserHonoursDisableUsersV1(t *testing.T) {
	e := newEnv(t, func(o *envOpt) { o.settings.DisableUsersV1 = true })
	tok, self := e.userSession("selfie", "password1")
	_, other := e.userSession("other1", "password1")
	wantStatus(t, e.do("GET", "/users/"+itoa(self)+".json", "", "CB-Token: "+tok), 200, "")
	// The same answer as the V1 lookups give, naming the setting.
	wantStatus(t, e.do("GET", "/users/"+itoa(other)+".json", "", "CB-Token: "+tok), 403,
		`{"errors":{"base":["Users retrieving forbidden in admin panel, application settings. Setup it here: the settings of application `+itoa(e.app.ID)+` (disable_users_v1)"]}}`)
	on := newEnv(t)
	tok, _ = on.userSession("selfie", "password1")
	_, other = on.userSession("other1", "password1")
	wantStatus(t, on.do("GET", "/users/"+itoa(other)+".json", "", "CB-Token: "+tok), 200, "")
}

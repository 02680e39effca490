package httpadapter_test

import "testing"

// TestExternalIDsTaken: external_user_id, facebook_id and twitter_id belong to one user of
// an application; another user claiming one gets 422 naming the field, and the owner keeps
// finding and deleting itself by it.
func TestExternalIDsTaken(t *testing.T) {
	e := newEnv(t)
	owner, ownerID := e.userSession("owner1", "supersecurepwd")
	attacker, attackerID := e.userSession("attacker1", "supersecurepwd")
	wantStatus(t, e.do("PUT", "/users/"+itoa(ownerID), `{"user":{"external_user_id":675373912,"facebook_id":"100","twitter_id":"200"}}`, "CB-Token: "+owner), 200, "")

	self := "/users/" + itoa(attackerID)
	key := "CB-AuthKey: " + e.app.AuthKey
	for _, tt := range []struct{ method, path, body, header, want string }{
		{"PUT", self, `{"user":{"external_user_id":"675373912"}}`, "CB-Token: " + attacker, `{"errors":{"external_user_id":["has already been taken"]}}`},
		{"PUT", self, `{"user":{"facebook_id":"100"}}`, "CB-Token: " + attacker, `{"errors":{"facebook_id":["has already been taken"]}}`},
		{"PUT", self, `{"user":{"twitter_id":"200"}}`, "CB-Token: " + attacker, `{"errors":{"twitter_id":["has already been taken"]}}`},
		{"POST", "/users.json", `{"user":{"login":"attacker2","password":"12345678","external_user_id":675373912}}`, key, `{"errors":{"external_user_id":["has already been taken"]}}`},
	} {
		wantStatus(t, e.do(tt.method, tt.path, tt.body, tt.header), 422, tt.want)
	}

	r := e.do("GET", "/users/external/675373912", "", "CB-Token: "+attacker)
	wantStatus(t, r, 200, "")
	if got := user(t, r)["id"]; got != float64(ownerID) {
		t.Fatalf("GET /users/external/675373912 = user %v, want the owner %d", got, ownerID)
	}
	wantStatus(t, e.do("DELETE", "/users/external/675373912", "", "CB-Token: "+owner), 200, "")
}

// TestConfusableLoginsRefused: look-alike logins and invisible characters are 422 "is
// invalid" or "has already been taken"; compatible forms log in.
func TestConfusableLoginsRefused(t *testing.T) {
	e := newEnv(t)
	key := "CB-AuthKey: " + e.app.AuthKey
	wantStatus(t, e.do("POST", "/users.json", `{"user":{"login":"alice","email":"alice@example.com","password":"12345678"}}`, key), 201, "")
	for _, tt := range []struct{ body, want string }{
		{`{"user":{"login":"\u0430lice","password":"12345678"}}`, `{"errors":{"login":["is invalid"]}}`},
		{`{"user":{"login":"alice\u200b","password":"12345678"}}`, `{"errors":{"login":["is invalid"]}}`},
		{`{"user":{"login":"\u0455\u0441\u043e\u0440\u0435","password":"12345678"}}`, ""},
		{`{"user":{"login":"Scope","password":"12345678"}}`, `{"errors":{"login":["has already been taken"]}}`},
		{`{"user":{"login":"\uff41\uff4c\uff49\uff43\uff45","password":"12345678"}}`, `{"errors":{"login":["has already been taken"]}}`},
		{`{"user":{"email":"bob\u202e@example.com","password":"12345678"}}`, `{"errors":{"email":["is invalid"]}}`},
	} {
		code := 422
		if tt.want == "" {
			code = 201
		}
		wantStatus(t, e.do("POST", "/users.json", tt.body, key), code, tt.want)
	}
	wantStatus(t, e.do("POST", "/session.json", e.sessionBody(`,"user":{"login":"\uff21\uff2c\uff29\uff23\uff25","password":"12345678"}`)), 201, "")
}

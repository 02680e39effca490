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

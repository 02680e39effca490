package httpadapter_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestHideContactInfoWire: with the application setting HideContactInfo, every retrieval
// endpoint answers other users' email and phone as null and the session's own user complete;
// filters and orders that would reveal them piecewise are 422 naming the field.
func TestHideContactInfoWire(t *testing.T) {
	e := newSearchEnv(t, func(o *envOpt) { o.settings.HideContactInfo = true })
	r := e.do("POST", "/users.json", `{"user":{"login":"zed_own","password":"supersecurepwd","email":"zed@example.com","phone":"0123456789"}}`,
		"CB-Token: "+e.token)
	wantStatus(t, r, 201, "")
	own, ownID := e.userSession("zed_own", "supersecurepwd")
	marvin := fmt.Sprint(e.users["marvin18"].ID)
	hidden := []string{"marvin18@example.com", "44678162873"}
	for _, tok := range []string{e.token, own} {
		for _, target := range []string{
			"/users/v2.json?login=marvin18",
			"/users/v2.json?email=marvin18%40example.com",
			"/users/v2.json?phone[in][]=44678162873",
			"/users.json?filter[]=string+login+eq+marvin18",
			"/users/" + marvin + ".json",
			"/users/by_login.json?login=marvin18",
			"/users/by_email.json?email=marvin18%40example.com",
			"/users/external/675373912.json",
		} {
			r := e.do("GET", target, "", "CB-Token: "+tok)
			if r.Code != 200 || !strings.Contains(r.Body, `"login":"marvin18"`) || !strings.Contains(r.Body, `"email":null`) || !strings.Contains(r.Body, `"phone":null`) {
				t.Errorf("GET %s: %d %s", target, r.Code, r.Body)
			}
			for _, h := range hidden {
				if strings.Contains(r.Body, h) {
					t.Errorf("GET %s shows %s: %s", target, h, r.Body)
				}
			}
		}
	}
	for _, target := range []string{"/users/" + fmt.Sprint(ownID) + ".json", "/users/v2.json?login=zed_own", "/users/by_login.json?login=zed_own"} {
		r := e.do("GET", target, "", "CB-Token: "+own)
		if r.Code != 200 || !strings.Contains(r.Body, `"email":"zed@example.com"`) || !strings.Contains(r.Body, `"phone":"0123456789"`) {
			t.Errorf("own user, GET %s: %d %s", target, r.Code, r.Body)
		}
	}
	for _, tt := range []struct{ target, field string }{
		{"/users/v2.json?email[start_with]=marv", "email"},
		{"/users/v2.json?phone[start_with]=4467", "phone"},
		{"/users/v2.json?user_tags=guest&sort_asc=phone", "sort"},
		{"/users.json?filter[]=string+email+gt+m", "email"},
		{"/users.json?filter[]=string+phone+between+4,5", "phone"},
		{"/users.json?order=asc+string+email", "order"},
	} {
		r := e.get(tt.target)
		if r.Code != 422 || !strings.HasPrefix(r.Body, `{"errors":{"`+tt.field+`":["`) {
			t.Errorf("GET %s: %d %s, want 422 naming %s", tt.target, r.Code, r.Body, tt.field)
		}
	}
}

package identity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/query"
)

// contactEnv returns an Identity over a searching store with two users having an email and a
// phone, an application session, and a session of the first user.
func contactEnv(t *testing.T, settings identity.AppSettings) (id *identity.Identity, appSession, own *identity.Session, users []*identity.User) {
	t.Helper()
	ctx := context.Background()
	id, app := searchIdentity(t, settings)
	var err error
	for _, login := range []string{"alice01", "bobby02"} {
		u, err := id.SignUp(ctx, app.ID, identity.UserInput{Login: ptr(login), Password: ptr("supersecurepwd"),
			Email: ptr(login + "@example.com"), Phone: ptr("+1555" + login[len(login)-2:]), Tags: ptr([]string{"team"})})
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	if appSession, err = id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey}); err != nil {
		t.Fatal(err)
	}
	if own, err = id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey,
		Credentials: &identity.Credentials{Login: "alice01", Password: "supersecurepwd"}}); err != nil {
		t.Fatal(err)
	}
	return id, appSession, own, users
}

// retrieved returns every user each retrieval call of the core gives s, by call.
func retrieved(t *testing.T, id *identity.Identity, s *identity.Session, users []*identity.User) map[string][]*identity.User {
	t.Helper()
	ctx := context.Background()
	out := map[string][]*identity.User{}
	byTag := []query.Filter{{Field: query.Tags, Op: query.Eq, Values: []any{"team"}}}
	page, err := id.SearchUsers(ctx, s, identity.UserQuery{Filters: byTag})
	if err != nil {
		t.Fatalf("SearchUsers: %v", err)
	}
	out["SearchUsers"] = page.Users
	if page, err = id.SearchUsers(ctx, s, identity.UserQuery{}); err != nil {
		t.Fatalf("SearchUsers without filters: %v", err)
	}
	out["SearchUsers without filters"] = page.Users
	for _, u := range users {
		for _, l := range []struct {
			field query.Field
			value any
		}{{query.Login, u.Login}, {query.Email, u.Email}, {query.Phone, u.Phone}} {
			found, err := id.LookupUser(ctx, s, l.field, l.value)
			if err != nil {
				t.Fatalf("LookupUser(%s): %v", l.field, err)
			}
			out["LookupUser by "+string(l.field)] = append(out["LookupUser by "+string(l.field)], found)
		}
		found, err := id.User(ctx, s, u.ID)
		if err != nil {
			t.Fatalf("User: %v", err)
		}
		out["User"] = append(out["User"], found)
	}
	return out
}

// TestHideContactInfo: with AppSettings.HideContactInfo every retrieval call returns other
// users without email and phone, and the session's own user complete; without it everyone
// is complete (ConnectyCube's behaviour).
func TestHideContactInfo(t *testing.T) {
	for _, hide := range []bool{false, true} {
		id, appSession, own, users := contactEnv(t, identity.AppSettings{HideContactInfo: hide})
		for _, s := range []*identity.Session{appSession, own} {
			for call, got := range retrieved(t, id, s, users) {
				if len(got) != 2 {
					t.Fatalf("hide=%v %s: %d users", hide, call, len(got))
				}
				for _, u := range got {
					var want *identity.User
					for _, w := range users {
						if w.ID == u.ID {
							want = w
						}
					}
					complete := !hide || u.ID == s.UserID
					if complete && (u.Email != want.Email || u.Phone != want.Phone || u.Email == "" || u.Phone == "") {
						t.Errorf("hide=%v session user %d, %s: user %d email %q phone %q, want %q %q",
							hide, s.UserID, call, u.ID, u.Email, u.Phone, want.Email, want.Phone)
					}
					if !complete && (u.Email != "" || u.Phone != "") {
						t.Errorf("hide=%v session user %d, %s: user %d shows email %q phone %q",
							hide, s.UserID, call, u.ID, u.Email, u.Phone)
					}
					if u.Login != want.Login {
						t.Errorf("%s: login %q, want %q", call, u.Login, want.Login)
					}
				}
			}
		}
	}
}

// TestHideContactInfoClosesTheOracle: with HideContactInfo, filters and orders that would
// reveal hidden values a character or a range at a time (start_with, comparisons, between,
// sorting by email or phone) are field errors; exact values (eq, in, ne, nin, the by_email
// and by_phone lookups) stay allowed. Without the setting all of them work.
func TestHideContactInfoClosesTheOracle(t *testing.T) {
	ctx := context.Background()
	team := query.Filter{Field: query.Tags, Op: query.Eq, Values: []any{"team"}}
	f := func(field query.Field, op query.Op, values ...any) query.Filter {
		return query.Filter{Field: field, Op: op, Values: values}
	}
	type call struct {
		name      string
		q         identity.UserQuery
		wantField string // the field error with the setting on; "" when allowed
	}
	calls := []call{
		{"email start_with", identity.UserQuery{Filters: []query.Filter{f(query.Email, query.StartWith, "alic")}}, "email"},
		{"phone start_with", identity.UserQuery{Filters: []query.Filter{f(query.Phone, query.StartWith, "+155")}}, "phone"},
		{"sort by email", identity.UserQuery{Filters: []query.Filter{team}, SortField: query.Email}, "sort"},
		{"sort by phone desc", identity.UserQuery{Filters: []query.Filter{team}, SortField: query.Phone, SortDesc: true}, "sort"},
		{"email gt", identity.UserQuery{Filters: []query.Filter{f(query.Email, query.Gt, "b")}}, "email"},
		{"phone lte", identity.UserQuery{Filters: []query.Filter{f(query.Phone, query.Lte, "+15550")}}, "phone"},
		{"email between", identity.UserQuery{Filters: []query.Filter{f(query.Email, query.Between, "a", "b")}}, "email"},
		{"order by email", identity.UserQuery{SortField: query.Email}, "sort"},
		{"email eq", identity.UserQuery{Filters: []query.Filter{f(query.Email, query.Eq, "alice01@example.com")}}, ""},
		{"phone in", identity.UserQuery{Filters: []query.Filter{f(query.Phone, query.In, "+155501", "+155502")}}, ""},
		{"email nin", identity.UserQuery{Filters: []query.Filter{team, f(query.Email, query.Nin, "x@example.com")}}, ""},
		{"email ne", identity.UserQuery{Filters: []query.Filter{f(query.Email, query.Ne, "x@example.com")}}, ""},
		{"login start_with", identity.UserQuery{Filters: []query.Filter{f(query.Login, query.StartWith, "alic")}}, ""},
		{"order by login", identity.UserQuery{SortField: query.Login}, ""},
		{"created_at gt", identity.UserQuery{Filters: []query.Filter{f(query.CreatedAt, query.Gt, time.Unix(0, 0))}}, ""},
	}
	for _, hide := range []bool{false, true} {
		id, appSession, own, _ := contactEnv(t, identity.AppSettings{HideContactInfo: hide})
		for _, s := range []*identity.Session{appSession, own} {
			for _, c := range calls {
				_, err := id.SearchUsers(ctx, s, c.q)
				want := ""
				if hide {
					want = c.wantField
				}
				var ie *identity.Error
				switch {
				case want == "" && err != nil:
					t.Errorf("hide=%v %s: %v", hide, c.name, err)
				case want != "" && (!errors.Is(err, identity.ErrInvalidInput) || !errors.As(err, &ie) || ie.Code(want) == ""):
					t.Errorf("hide=%v %s: err = %v, want a field error on %q", hide, c.name, err, want)
				}
			}
		}
		for _, field := range []query.Field{query.Email, query.Phone} {
			value := "alice01@example.com"
			if field == query.Phone {
				value = "+155501"
			}
			if u, err := id.LookupUser(ctx, appSession, field, value); err != nil || u.Login != "alice01" {
				t.Errorf("hide=%v: lookup by %s: %v", hide, field, err)
			}
		}
	}
}

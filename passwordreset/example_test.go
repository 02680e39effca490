package passwordreset_test

import (
	"context"
	"fmt"
	"log"
	"regexp"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/passwordreset"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/store/gormstore"
)

// printMailer stands in for mail/smtp: it prints each message with its token masked, and
// remembers the last link.
type printMailer struct{ link string }

var linkPattern = regexp.MustCompile(`https://\S+`)

func (m *printMailer) Send(_ context.Context, msg passwordreset.Message) error {
	m.link = linkPattern.FindString(msg.Text)
	fmt.Printf("to %s: %q\n", msg.To, msg.Subject)
	fmt.Println(regexp.MustCompile(`token=[0-9a-f]{64}`).ReplaceAllString(m.link, "token=<64 hex>"))
	return nil
}

// Password reset by email: the request is queued and mailed off the request path, the link
// carries a single-use token, and using it sets the password and ends every session.
func Example() {
	ctx := context.Background()
	st, err := gormstore.OpenSQLite(":memory:", gormstore.Config{}) // a file path in a real program
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	pw, err := password.New(password.Config{})
	if err != nil {
		log.Fatal(err)
	}
	mailer := &printMailer{}
	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw}})
	if err != nil {
		log.Fatal(err)
	}
	// The service registers its hooks on id: id.Shutdown stops its mail workers, and a
	// password change voids the user's links.
	reset, err := passwordreset.New(id, passwordreset.Config{
		Store: st, Mailer: mailer, LinkURL: "https://api.example.com/password_reset",
	})
	if err != nil {
		log.Fatal(err)
	}
	app, err := id.CreateApplication(ctx, "Chat", identity.AppSettings{})
	if err != nil {
		log.Fatal(err)
	}
	email, old := "awesomeman@gmail.com", "supersecurepwd"
	if _, err := id.SignUp(ctx, app.ID, identity.UserInput{Email: &email, Password: &old}); err != nil {
		log.Fatal(err)
	}

	// What GET/POST /users/password/reset does; nil for unknown addresses too.
	known := reset.Request(ctx, app.ID, email, "203.0.113.7")
	unknown := reset.Request(ctx, app.ID, "nobody@example.com", "203.0.113.7")
	id.Shutdown(ctx) // here: wait until the queue is sent
	fmt.Println(known, unknown)

	// What the reset page does with the link's token.
	token := linkPattern.FindStringSubmatch(mailer.link)[0][len("https://api.example.com/password_reset?token="):]
	fmt.Println(reset.Reset(ctx, token, "brand-new-password"))
	fmt.Println(reset.Reset(ctx, token, "another-password"))
	// Output:
	// to awesomeman@gmail.com: "Chat: password reset"
	// https://api.example.com/password_reset?token=<64 hex>
	// <nil> <nil>
	// <nil>
	// passwordreset: invalid or expired token
}

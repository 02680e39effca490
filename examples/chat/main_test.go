package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/provider/guest"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/store/gormstore"
)

type chatEnv struct {
	id   *identity.Identity
	app  *identity.Application
	addr string
}

func setup(t *testing.T) *chatEnv {
	t.Helper()
	ctx := context.Background()
	st, err := gormstore.OpenSQLite(filepath.Join(t.TempDir(), "chat.db"), gormstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	pw, err := password.New(password.Config{})
	if err != nil {
		t.Fatal(err)
	}
	gp, err := guest.New(guest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw, gp}})
	if err != nil {
		t.Fatal(err)
	}
	app, err := id.CreateApplication(ctx, "chat", identity.AppSettings{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := NewGateway(id, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go g.Serve(ln)
	t.Cleanup(g.Close)
	return &chatEnv{id: id, app: app, addr: ln.Addr().String()}
}

// guestSession creates a password-less user (a guest) and its session.
func (e *chatEnv) guestSession(t *testing.T, name string) *identity.Session {
	t.Helper()
	s, err := e.id.CreateSession(context.Background(), identity.SessionRequest{
		ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Guest: true, FullName: name},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type conn struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func (e *chatEnv) dial(t *testing.T) *conn {
	t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &conn{t: t, c: c, rd: bufio.NewReader(c)}
}

func (c *conn) say(format string, args ...any) {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.c, format+"\n", args...); err != nil {
		c.t.Fatal(err)
	}
}

func (c *conn) expect(want string) {
	c.t.Helper()
	line, err := c.rd.ReadString('\n')
	if err != nil {
		c.t.Fatalf("waiting for %q: %v", want, err)
	}
	if line != want+"\n" {
		c.t.Fatalf("got %q, want %q", line, want)
	}
}

// expectClosed checks that the server closed the connection.
func (c *conn) expectClosed() {
	c.t.Helper()
	if line, err := c.rd.ReadString('\n'); err != io.EOF {
		c.t.Fatalf("got %q, %v; want the connection closed", line, err)
	}
}

func TestChatLoginWithSessionToken(t *testing.T) {
	e := setup(t)
	ann, bob := e.guestSession(t, "Ann"), e.guestSession(t, "Bob")

	a := e.dial(t)
	a.say("AUTH %d %s", ann.UserID, ann.Token)
	a.expect(fmt.Sprintf("OK %d", ann.UserID))
	b := e.dial(t)
	b.say("AUTH %d %s", bob.UserID, bob.Token)
	b.expect(fmt.Sprintf("OK %d", bob.UserID))

	a.say("MSG hello bob")
	b.expect(fmt.Sprintf("MSG %d hello bob", ann.UserID))
	b.say("MSG hi")
	a.expect(fmt.Sprintf("MSG %d hi", bob.UserID))

	// Bob's session is destroyed through the API: his next message ends his connection.
	if err := e.id.DestroySession(context.Background(), bob); err != nil {
		t.Fatal(err)
	}
	b.say("MSG still there?")
	b.expect("ERR session expired")
	b.expectClosed()
	a.say("QUIT")
	a.expectClosed()
}

func TestChatLoginRefused(t *testing.T) {
	e := setup(t)
	ann, bob := e.guestSession(t, "Ann"), e.guestSession(t, "Bob")
	app, err := e.id.CreateSession(context.Background(), identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		line string
	}{
		{"another user's token", fmt.Sprintf("AUTH %d %s", ann.UserID, bob.Token)},
		{"unknown token", fmt.Sprintf("AUTH %d %064d", ann.UserID, 0)},
		{"application session token", fmt.Sprintf("AUTH %d %s", ann.UserID, app.Token)},
		{"malformed user id", "AUTH ann " + ann.Token},
		{"not AUTH first", "MSG hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.dial(t)
			c.say("%s", tt.line)
			c.expect("ERR not authorized")
			c.expectClosed()
		})
	}
}

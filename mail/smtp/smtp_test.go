package smtp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/smtptest"
	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/mail/smtp"
	"github.com/identitykit/identity/passwordreset"
)

const (
	user = "mailer@example.com"
	pass = "smtp-s3cret-pass"
)

func mailerFor(t *testing.T, srv *smtptest.Server, mode smtp.TLSMode, mod ...func(*smtp.Config)) *smtp.Mailer {
	t.Helper()
	cfg := smtp.Config{
		Host:      srv.Host,
		Port:      srv.Port,
		TLS:       mode,
		From:      "Chat <no-reply@example.com>",
		TLSConfig: &tls.Config{RootCAs: srv.Roots},
	}
	for _, m := range mod {
		m(&cfg)
	}
	m, err := smtp.New(cfg)
	if err != nil {
		t.Fatalf("smtp.New: %v", err)
	}
	return m
}

func withAuth(c *smtp.Config) { c.Username, c.Password = user, pass }

var msg = passwordreset.Message{
	To:      "marvin@example.com",
	Subject: "Chat: password reset",
	Text:    "Open https://id.example.com/password_reset?token=" + strings.Repeat("ab", 32) + "\n.dot line stays\n",
	HTML:    `<p>Open <a href="https://id.example.com/password_reset?token=` + strings.Repeat("ab", 32) + `">this link</a></p>`,
}

func TestSend(t *testing.T) {
	tests := []struct {
		name     string
		opts     smtptest.Options
		mode     smtp.TLSMode
		auth     bool
		wantMech string
	}{
		{"STARTTLS with PLAIN", smtptest.Options{Mode: smtptest.StartTLS, Mechanisms: []string{"PLAIN", "LOGIN"}, Username: user, Password: pass}, smtp.StartTLS, true, "PLAIN"},
		{"STARTTLS with LOGIN only", smtptest.Options{Mode: smtptest.StartTLS, Mechanisms: []string{"LOGIN"}, Username: user, Password: pass}, smtp.StartTLS, true, "LOGIN"},
		{"implicit TLS with PLAIN", smtptest.Options{Mode: smtptest.ImplicitTLS, Mechanisms: []string{"PLAIN"}, Username: user, Password: pass}, smtp.ImplicitTLS, true, "PLAIN"},
		{"implicit TLS with LOGIN", smtptest.Options{Mode: smtptest.ImplicitTLS, Mechanisms: []string{"LOGIN"}, Username: user, Password: pass}, smtp.ImplicitTLS, true, "LOGIN"},
		{"STARTTLS without auth", smtptest.Options{Mode: smtptest.StartTLS}, smtp.StartTLS, false, ""},
		{"plain text relay", smtptest.Options{Mode: smtptest.Plain}, smtp.InsecurePlaintext, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, tc.opts)
			var mods []func(*smtp.Config)
			if tc.auth {
				mods = append(mods, withAuth)
			}
			m := mailerFor(t, srv, tc.mode, mods...)
			if err := m.Send(t.Context(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.Messages()
			if len(got) != 1 {
				t.Fatalf("server got %d messages, want 1", len(got))
			}
			g := got[0]
			if wantTLS := tc.mode != smtp.InsecurePlaintext; g.TLS != wantTLS {
				t.Fatalf("message over TLS = %v, want %v", g.TLS, wantTLS)
			}
			if g.AuthMech != tc.wantMech || (tc.auth && g.AuthUser != user) {
				t.Fatalf("authenticated as %q with %q, want %q", g.AuthUser, g.AuthMech, tc.wantMech)
			}
			if g.From != "no-reply@example.com" || len(g.To) != 1 || g.To[0] != "marvin@example.com" {
				t.Fatalf("envelope from %q to %q", g.From, g.To)
			}
			checkMIME(t, g, msg)
		})
	}
}

// checkMIME checks the headers and both parts of a received message against want.
func checkMIME(t *testing.T, g smtptest.Message, want passwordreset.Message) {
	t.Helper()
	h := g.Header
	if h.Get("From") != `"Chat" <no-reply@example.com>` || h.Get("To") != "<"+want.To+">" {
		t.Fatalf("From %q To %q", h.Get("From"), h.Get("To"))
	}
	if g.Subject != want.Subject {
		t.Fatalf("subject %q, want %q", g.Subject, want.Subject)
	}
	if _, err := h.Date(); err != nil {
		t.Fatalf("Date header: %v", err)
	}
	if !regexp.MustCompile(`^<[0-9a-f]{32}@example\.com>$`).MatchString(h.Get("Message-ID")) {
		t.Fatalf("Message-ID %q", h.Get("Message-ID"))
	}
	if h.Get("MIME-Version") != "1.0" || h.Get("Auto-Submitted") != "auto-generated" {
		t.Fatalf("MIME-Version %q Auto-Submitted %q", h.Get("MIME-Version"), h.Get("Auto-Submitted"))
	}
	wantType := "multipart/alternative"
	if want.HTML == "" {
		wantType = "text/plain"
	}
	if g.ContentType != wantType {
		t.Fatalf("content type %q, want %q", g.ContentType, wantType)
	}
	norm := func(s string) string { return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n") }
	if norm(g.Text) != norm(want.Text) || norm(g.HTML) != norm(want.HTML) {
		t.Fatalf("parts differ:\ntext %q\nwant %q\nhtml %q\nwant %q", g.Text, want.Text, g.HTML, want.HTML)
	}
	for _, line := range strings.Split(string(g.Raw), "\r\n") {
		if len(line) > 78 && !strings.HasPrefix(line, "Content-Type: multipart") {
			t.Fatalf("line of %d characters in the raw message: %q", len(line), line)
		}
		for _, c := range []byte(line) {
			if c >= 0x80 {
				t.Fatalf("8-bit byte in the raw message line %q", line)
			}
		}
	}
}

func TestSendTextOnlyAndUTF8(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.StartTLS})
	m := mailerFor(t, srv, smtp.StartTLS)
	long := strings.Repeat("Пароль для «Чата» — ", 8)
	want := passwordreset.Message{To: "joerg@example.com", Subject: long + "сброс", Text: "Grüße,\nein Link: https://x.example/r?token=abc\n"}
	if err := m.Send(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	g := srv.Messages()[0]
	if g.To[0] != "joerg@example.com" {
		t.Fatalf("envelope recipient %q", g.To[0])
	}
	checkMIME(t, g, want)
}

func TestSendRejectsHeaderInjection(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.StartTLS})
	m := mailerFor(t, srv, smtp.StartTLS)
	tests := []struct {
		name  string
		msg   passwordreset.Message
		field string
	}{
		{"CRLF in subject", passwordreset.Message{To: "a@example.com", Subject: "Hi\r\nBcc: victim@example.com", Text: "x"}, "subject"},
		{"LF in subject", passwordreset.Message{To: "a@example.com", Subject: "Hi\nX-Evil: 1", Text: "x"}, "subject"},
		{"CR in recipient", passwordreset.Message{To: "a@example.com\rBcc: v@example.com", Subject: "s", Text: "x"}, "to"},
		{"LF in recipient", passwordreset.Message{To: "a@example.com\nBcc: v@example.com", Subject: "s", Text: "x"}, "to"},
		{"two recipients", passwordreset.Message{To: "a@example.com, b@example.com", Subject: "s", Text: "x"}, "to"},
		{"not an address", passwordreset.Message{To: "nobody", Subject: "s", Text: "x"}, "to"},
		{"NUL in recipient", passwordreset.Message{To: "a\x00@example.com", Subject: "s", Text: "x"}, "to"},
	}
	for _, tc := range tests {
		err := m.Send(t.Context(), tc.msg)
		var e *identity.Error
		if !errors.Is(err, identity.ErrInvalidInput) || !errors.As(err, &e) || e.Code(tc.field) == "" {
			t.Fatalf("%s: %v, want ErrInvalidInput naming %q", tc.name, err, tc.field)
		}
	}
	if n := srv.Connections(); n != 0 {
		t.Fatalf("%d connections for refused messages, want 0", n)
	}
}

func TestSendFailures(t *testing.T) {
	t.Run("STARTTLS not offered", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.Plain})
		err := mailerFor(t, srv, smtp.StartTLS).Send(t.Context(), msg)
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("Send: %v, want a STARTTLS error", err)
		}
		if len(srv.Messages()) != 0 {
			t.Fatal("a message was sent in plain text")
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.ImplicitTLS})
		err := mailerFor(t, srv, smtp.ImplicitTLS, func(c *smtp.Config) { c.TLSConfig = nil }).Send(t.Context(), msg)
		if err == nil || len(srv.Messages()) != 0 {
			t.Fatalf("Send to an untrusted server: %v", err)
		}
	})
	t.Run("certificate for another name", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.StartTLS})
		err := mailerFor(t, srv, smtp.StartTLS, func(c *smtp.Config) {
			c.TLSConfig = &tls.Config{RootCAs: srv.Roots, ServerName: "mail.example.org"}
		}).Send(t.Context(), msg)
		if err == nil || len(srv.Messages()) != 0 {
			t.Fatalf("Send with a name mismatch: %v", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.StartTLS, Mechanisms: []string{"PLAIN"}, Username: user, Password: pass})
		err := mailerFor(t, srv, smtp.StartTLS, func(c *smtp.Config) { c.Username, c.Password = user, "wrong-pass-xyz" }).Send(t.Context(), msg)
		if err == nil || !strings.Contains(err.Error(), "AUTH") {
			t.Fatalf("Send with a wrong password: %v, want an AUTH error", err)
		}
		if strings.Contains(err.Error(), "wrong-pass-xyz") {
			t.Fatalf("the error contains the password: %v", err)
		}
	})
	t.Run("auth required but not configured", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.StartTLS, Mechanisms: []string{"PLAIN"}, Username: user, Password: pass})
		err := mailerFor(t, srv, smtp.StartTLS).Send(t.Context(), msg)
		if err == nil || !strings.Contains(err.Error(), "MAIL FROM") {
			t.Fatalf("Send without credentials: %v", err)
		}
	})
	t.Run("no mechanism in common", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.StartTLS, Mechanisms: []string{"CRAM-MD5"}, Username: user, Password: pass})
		err := mailerFor(t, srv, smtp.StartTLS, withAuth).Send(t.Context(), msg)
		if err == nil || !strings.Contains(err.Error(), "no supported mechanism") {
			t.Fatalf("Send: %v", err)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		m, err := smtp.New(smtp.Config{Host: "127.0.0.1", Port: port, From: "a@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Send(t.Context(), msg); !errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("Send to a closed port: %v, want ErrUnavailable", err)
		}
	})
}

// silentServer accepts connections and never answers; accepted is signalled per connection.
func silentServer(t *testing.T) (port int, accepted <-chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 16)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			ch <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port, ch
}

func TestSendHonoursContextAndTimeout(t *testing.T) {
	t.Run("cancelled context", func(t *testing.T) {
		port, accepted := silentServer(t)
		m, err := smtp.New(smtp.Config{Host: "127.0.0.1", Port: port, From: "a@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- m.Send(ctx, msg) }()
		<-accepted
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) || !errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("Send after cancel: %v, want context.Canceled and ErrUnavailable", err)
		}
	})
	t.Run("Config.Timeout", func(t *testing.T) {
		port, _ := silentServer(t)
		m, err := smtp.New(smtp.Config{Host: "127.0.0.1", Port: port, From: "a@example.com", Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Send(t.Context(), msg); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send to a silent server: %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     smtp.Config
		wantErr bool
	}{
		{"minimal", smtp.Config{Host: "smtp.example.com", From: "a@example.com"}, false},
		{"display name", smtp.Config{Host: "smtp.example.com", From: "Chat Team <a@example.com>"}, false},
		{"no host", smtp.Config{From: "a@example.com"}, true},
		{"host with a space", smtp.Config{Host: "smtp example.com", From: "a@example.com"}, true},
		{"no from", smtp.Config{Host: "smtp.example.com"}, true},
		{"bad from", smtp.Config{Host: "smtp.example.com", From: "not an address"}, true},
		{"from with CRLF", smtp.Config{Host: "smtp.example.com", From: "a@example.com\r\nBcc: b@example.com"}, true},
		{"auth without TLS", smtp.Config{Host: "smtp.example.com", From: "a@example.com", TLS: smtp.InsecurePlaintext, Username: "u", Password: "pw-not-in-errors"}, true},
		{"password with CRLF", smtp.Config{Host: "smtp.example.com", From: "a@example.com", Username: "u", Password: "pw-not-in-errors\r\nQUIT"}, true},
		{"bad port", smtp.Config{Host: "smtp.example.com", From: "a@example.com", Port: 70000}, true},
		{"bad mode", smtp.Config{Host: "smtp.example.com", From: "a@example.com", TLS: smtp.TLSMode(9)}, true},
		{"negative timeout", smtp.Config{Host: "smtp.example.com", From: "a@example.com", Timeout: -time.Second}, true},
		{"bad hello name", smtp.Config{Host: "smtp.example.com", From: "a@example.com", HelloName: "a b"}, true},
	}
	for _, tc := range tests {
		_, err := smtp.New(tc.cfg)
		if (err != nil) != tc.wantErr {
			t.Fatalf("%s: New = %v, want error %v", tc.name, err, tc.wantErr)
		}
		if err != nil && tc.cfg.Password != "" && strings.Contains(err.Error(), tc.cfg.Password) {
			t.Fatalf("%s: the error contains the password", tc.name)
		}
	}
}

func TestParseTLSMode(t *testing.T) {
	tests := []struct {
		in      string
		want    smtp.TLSMode
		wantErr bool
	}{
		{"starttls", smtp.StartTLS, false},
		{"STARTTLS", smtp.StartTLS, false},
		{"tls", smtp.ImplicitTLS, false},
		{"implicit", smtp.ImplicitTLS, false},
		{"insecure-plaintext", smtp.InsecurePlaintext, false},
		{"none", 0, true},
		{"", 0, true},
	}
	for _, tc := range tests {
		got, err := smtp.ParseTLSMode(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Fatalf("ParseTLSMode(%q) = %v, %v", tc.in, got, err)
		}
		if !tc.wantErr {
			if back, _ := smtp.ParseTLSMode(got.String()); back != got {
				t.Fatalf("ParseTLSMode(%v.String()) = %v", got, back)
			}
		}
	}
}

// TestPasswordResetOverSMTP runs the whole reset through a real SMTP server: the identity
// queues the request, a worker mails the link over STARTTLS with AUTH, the test reads the
// link from the received message and sets the new password with it.
func TestPasswordResetOverSMTP(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.StartTLS, Mechanisms: []string{"PLAIN", "LOGIN"}, Username: user, Password: pass})
	st, pw := testenv.Store(t), testenv.Passwords(t)
	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw}})
	if err != nil {
		t.Fatal(err)
	}
	reset, err := passwordreset.New(id, passwordreset.Config{
		Store:   st,
		Mailer:  mailerFor(t, srv, smtp.StartTLS, withAuth),
		LinkURL: "https://id.example.com/auth/password_reset",
	})
	if err != nil {
		t.Fatal(err)
	}
	app, err := id.CreateApplication(t.Context(), "Chat", identity.AppSettings{})
	if err != nil {
		t.Fatal(err)
	}
	email, old := "awesomeman@gmail.com", "supersecurepwd"
	if _, err := id.SignUp(t.Context(), app.ID, identity.UserInput{Login: ptr("marvin18"), Email: &email, Password: &old}); err != nil {
		t.Fatal(err)
	}
	if err := reset.Request(t.Context(), app.ID, email, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := id.Shutdown(t.Context()); err != nil { // sends what is queued
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].To[0] != email || got[0].Subject != "Chat: password reset" {
		t.Fatalf("received %+v", got)
	}
	link := regexp.MustCompile(`https://\S+`).FindString(got[0].Text)
	u, err := url.Parse(link)
	if err != nil || u.Host != "id.example.com" || u.Path != "/auth/password_reset" {
		t.Fatalf("link %q in the mail: %v", link, err)
	}
	if !strings.Contains(got[0].HTML, `href="`+link+`"`) {
		t.Fatalf("the HTML part does not link to %q:\n%s", link, got[0].HTML)
	}
	if err := reset.Reset(t.Context(), u.Query().Get("token"), "brand-new-password"); err != nil {
		t.Fatalf("Reset with the mailed token: %v", err)
	}
	if _, err := id.CreateSession(t.Context(), identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey,
		Credentials: &identity.Credentials{Email: email, Password: "brand-new-password"}}); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

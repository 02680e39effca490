// Package smtp is a passwordreset.Mailer that delivers mail through an SMTP submission server:
// implicit TLS (SMTPS, port 465) or STARTTLS (port 587), optional authentication (PLAIN or
// LOGIN, only ever over TLS), and a timeout on every delivery.
//
//	m, err := smtp.New(smtp.Config{
//		Host:     "smtp.example.com",
//		TLS:      smtp.StartTLS,
//		Username: "no-reply@example.com",
//		Password: os.Getenv("SMTP_PASSWORD"),
//		From:     "Chat <no-reply@example.com>",
//	})
//	reset, err := passwordreset.New(id, passwordreset.Config{..., Mailer: m, LinkURL: ...})
//
// Messages are MIME: multipart/alternative with a text/plain and a text/html part (text/plain
// alone when the message has no HTML), UTF-8, quoted-printable, with Date, Message-ID and
// "Auto-Submitted: auto-generated" headers. A recipient or subject containing a line break
// (header injection) is refused with an error wrapping identity.ErrInvalidInput.
//
// The package uses the standard library's net/smtp and crypto/tls rather than a third-party
// client: net/smtp is frozen but complete for message submission (EHLO, STARTTLS, AUTH, MAIL,
// RCPT, DATA with dot-stuffing), so the library adds no dependency to programs that send
// mail. What net/smtp lacks is added here in a few lines: contexts and timeouts (connection
// deadlines), implicit TLS (a tls.Client handed to smtp.NewClient) and the LOGIN mechanism.
package smtp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	netsmtp "net/smtp"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/passwordreset"
)

// TLSMode says how the connection to the server is protected.
type TLSMode int

const (
	// StartTLS connects in plain text and upgrades with STARTTLS before anything else is
	// sent; a server that does not offer STARTTLS is an error. Default port 587.
	StartTLS TLSMode = iota
	// ImplicitTLS speaks TLS from the first byte (SMTPS). Default port 465.
	ImplicitTLS
	// InsecurePlaintext sends everything, mail included, unencrypted: only for a relay on
	// the same host or a test server. Authentication is refused in this mode. Default port 25.
	InsecurePlaintext
)

// String returns the name ParseTLSMode accepts.
func (m TLSMode) String() string {
	switch m {
	case StartTLS:
		return "starttls"
	case ImplicitTLS:
		return "tls"
	case InsecurePlaintext:
		return "insecure-plaintext"
	}
	return "TLSMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseTLSMode parses "starttls", "tls" (or "implicit") and "insecure-plaintext", case
// insensitively.
func ParseTLSMode(s string) (TLSMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "starttls":
		return StartTLS, nil
	case "tls", "implicit", "implicit-tls", "smtps":
		return ImplicitTLS, nil
	case "insecure-plaintext":
		return InsecurePlaintext, nil
	}
	return 0, fmt.Errorf("smtp: unknown TLS mode %q (want starttls, tls or insecure-plaintext)", s)
}

// Config configures a Mailer.
type Config struct {
	// Host is the server's host name (or IP address). Required. It is also the name the
	// server's certificate must carry unless TLSConfig.ServerName says otherwise.
	Host string
	// Port defaults to 587 for StartTLS, 465 for ImplicitTLS and 25 for InsecurePlaintext.
	Port int
	// TLS is the connection security. Default StartTLS.
	TLS TLSMode
	// Username and Password, when Username is set, authenticate with PLAIN, or LOGIN when the
	// server offers only that. Default: no authentication.
	Username string
	Password string
	// From is the sender, an RFC 5322 address with an optional display name
	// ("Chat <no-reply@example.com>"). Required.
	From string
	// HelloName is the name sent with EHLO. Default "localhost".
	HelloName string
	// TLSConfig is cloned for the connection (root CAs, client certificates). ServerName
	// defaults to Host and MinVersion to TLS 1.2. Default: the system's roots.
	TLSConfig *tls.Config
	// Timeout bounds one delivery, from dialling to QUIT, on top of the caller's context.
	// Default 30 s.
	Timeout time.Duration
}

// Mailer sends password reset mail (passwordreset.Message) over SMTP. It opens one connection per message and is safe
// for concurrent use.
type Mailer struct {
	cfg  Config
	addr string
	from *mail.Address
	tls  *tls.Config
	now  func() time.Time
}

var _ passwordreset.Mailer = (*Mailer)(nil)

// New checks cfg and returns a Mailer. It does not connect.
func New(cfg Config) (*Mailer, error) {
	if strings.TrimSpace(cfg.Host) == "" || strings.ContainsAny(cfg.Host, " \r\n\x00/") {
		return nil, errors.New("smtp: Config.Host is required and must be a host name")
	}
	switch cfg.TLS {
	case StartTLS, ImplicitTLS, InsecurePlaintext:
	default:
		return nil, fmt.Errorf("smtp: unknown Config.TLS %d", int(cfg.TLS))
	}
	if cfg.Port == 0 {
		cfg.Port = map[TLSMode]int{StartTLS: 587, ImplicitTLS: 465, InsecurePlaintext: 25}[cfg.TLS]
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("smtp: Config.Port %d out of range", cfg.Port)
	}
	if cfg.Username != "" && cfg.TLS == InsecurePlaintext {
		return nil, errors.New("smtp: authentication over an unencrypted connection is refused; use StartTLS or ImplicitTLS")
	}
	if strings.ContainsAny(cfg.Username+cfg.Password, "\r\n\x00") {
		return nil, errors.New("smtp: Config.Username and Config.Password must not contain line breaks or NUL")
	}
	if strings.ContainsAny(cfg.From, "\r\n\x00") {
		return nil, errors.New("smtp: Config.From must not contain line breaks")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: Config.From %q: %w", cfg.From, err)
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
	if strings.ContainsAny(cfg.HelloName, " \r\n\x00") {
		return nil, errors.New("smtp: Config.HelloName must be one word")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("smtp: Config.Timeout must not be negative")
	}
	tc := &tls.Config{}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	return &Mailer{
		cfg:  cfg,
		addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		from: from,
		tls:  tc,
		now:  time.Now,
	}, nil
}

// Send delivers msg to msg.To. It returns an error wrapping identity.ErrInvalidInput for a
// message that cannot be sent safely (a recipient that is not one address, a line break in
// the recipient or subject), and one wrapping identity.ErrUnavailable when the server could
// not be reached, timed out, or answered with a temporary (4xx) failure. The password and
// the message are never part of an error.
func (m *Mailer) Send(ctx context.Context, msg passwordreset.Message) error {
	to, err := checkMessage(msg)
	if err != nil {
		return err
	}
	body, err := m.build(msg, to)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	return m.deliver(ctx, to, body)
}

// checkMessage refuses what would let message content rewrite headers or the envelope, and
// returns the recipient.
func checkMessage(msg passwordreset.Message) (*mail.Address, error) {
	bad := func(field, why string) error {
		return identity.NewError("send mail", identity.ErrInvalidInput, field, "invalid")
	}
	if strings.ContainsAny(msg.To, "\r\n\x00") {
		return nil, bad("to", "must not contain line breaks")
	}
	if strings.ContainsAny(msg.Subject, "\r\n\x00") {
		return nil, bad("subject", "must not contain line breaks")
	}
	to, err := mail.ParseAddress(msg.To)
	if err != nil {
		return nil, bad("to", "is not one email address")
	}
	if strings.ContainsAny(to.Address, "<>\" ,;") {
		return nil, bad("to", "is not one email address")
	}
	return to, nil
}

// build returns the message in wire form (CRLF line ends).
func (m *Mailer) build(msg passwordreset.Message, to *mail.Address) ([]byte, error) {
	var b bytes.Buffer
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("From", m.from.String())
	hdr("To", (&mail.Address{Address: to.Address}).String())
	b.WriteString(fold("Subject", mime.QEncoding.Encode("utf-8", msg.Subject)))
	hdr("Date", m.now().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+randomHex(16)+"@"+domainOf(m.from.Address)+">")
	hdr("MIME-Version", "1.0")
	hdr("Auto-Submitted", "auto-generated")
	if msg.HTML == "" {
		hdr("Content-Type", "text/plain; charset=utf-8")
		hdr("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, msg.Text); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	var parts bytes.Buffer
	mw := multipart.NewWriter(&parts)
	hdr("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	for _, p := range []struct{ ctype, body string }{{"text/plain", msg.Text}, {"text/html", msg.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ctype + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		if err := writeQP(w, p.body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	b.Write(parts.Bytes())
	return b.Bytes(), nil
}

func writeQP(w io.Writer, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := io.WriteString(qp, s); err != nil {
		return err
	}
	if err := qp.Close(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\r\n")
	return err
}

// fold returns the header field name: v with its line ending, folded at spaces so that
// lines stay within 78 characters where the words allow (RFC 5322 section 2.2.3; encoded
// words are at most 75 characters).
func fold(name, v string) string {
	var b strings.Builder
	line := len(name) + 1
	b.WriteString(name + ":")
	for i, w := range strings.Split(v, " ") {
		if line+1+len(w) > 78 && (i > 0 || len(w) <= 77) {
			b.WriteString("\r\n")
			line = 0
		}
		b.WriteString(" " + w)
		line += 1 + len(w)
	}
	b.WriteString("\r\n")
	return b.String()
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i+1 < len(addr) {
		return addr[i+1:]
	}
	return "localhost"
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// deliver runs one SMTP transaction for body to to.
func (m *Mailer) deliver(ctx context.Context, to *mail.Address, body []byte) (err error) {
	step := "dial"
	defer func() {
		if err != nil {
			err = m.wrap(ctx, step, err)
		}
	}()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	// When ctx ends (cancelled, or its deadline, which includes Config.Timeout, passed), a
	// deadline in the past unblocks every read and write at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if m.cfg.TLS == ImplicitTLS {
		step = "tls handshake"
		tc := tls.Client(conn, m.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		conn = tc
	}
	step = "greeting"
	c, err := netsmtp.NewClient(conn, m.cfg.Host)
	if err != nil {
		return err
	}
	defer c.Close()
	step = "EHLO"
	if err := c.Hello(m.cfg.HelloName); err != nil {
		return err
	}
	if m.cfg.TLS == StartTLS {
		step = "STARTTLS"
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("the server does not offer STARTTLS")
		}
		if err := c.StartTLS(m.tls); err != nil {
			return err
		}
	}
	if m.cfg.Username != "" {
		step = "AUTH"
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return errors.New("the server does not offer authentication")
		}
		var a netsmtp.Auth
		switch list := strings.Fields(strings.ToUpper(mechs)); {
		case slices.Contains(list, "PLAIN"):
			a = &plainAuth{user: m.cfg.Username, pass: m.cfg.Password}
		case slices.Contains(list, "LOGIN"):
			a = &loginAuth{user: m.cfg.Username, pass: m.cfg.Password}
		default:
			return fmt.Errorf("the server offers no supported mechanism (PLAIN, LOGIN) among %q", mechs)
		}
		if err := c.Auth(a); err != nil {
			return err
		}
	}
	step = "MAIL FROM"
	if err := c.Mail(m.from.Address); err != nil {
		return err
	}
	step = "RCPT TO"
	if err := c.Rcpt(to.Address); err != nil {
		return err
	}
	step = "DATA"
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	step = "QUIT"
	// The message is accepted once DATA is answered; a failing QUIT does not undo it.
	c.Quit()
	return nil
}

// wrap names the step and classifies err.
func (m *Mailer) wrap(ctx context.Context, step string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("smtp: %s %s: %w: %w: %v", step, m.addr, identity.ErrUnavailable, ctxErr, err)
	}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		if tp.Code >= 400 && tp.Code < 500 {
			return fmt.Errorf("smtp: %s %s: %w: %w", step, m.addr, identity.ErrUnavailable, err)
		}
		return fmt.Errorf("smtp: %s %s: %w", step, m.addr, err)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("smtp: %s %s: %w: %w", step, m.addr, identity.ErrUnavailable, err)
	}
	return fmt.Errorf("smtp: %s %s: %w", step, m.addr, err)
}

// plainAuth is SASL PLAIN (RFC 4616), only over TLS. (net/smtp's PlainAuth also allows
// localhost without TLS.)
type plainAuth struct{ user, pass string }

func (a *plainAuth) Start(s *netsmtp.ServerInfo) (string, []byte, error) {
	if !s.TLS {
		return "", nil, errors.New("refusing to send credentials over an unencrypted connection")
	}
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a *plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge during PLAIN authentication")
	}
	return nil, nil
}

// loginAuth is the LOGIN mechanism (draft-murchison-sasl-login), only over TLS: the server
// asks for the user name, then the password.
type loginAuth struct {
	user, pass string
	step       int
}

func (a *loginAuth) Start(s *netsmtp.ServerInfo) (string, []byte, error) {
	if !s.TLS {
		return "", nil, errors.New("refusing to send credentials over an unencrypted connection")
	}
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	switch a.step {
	case 1:
		return []byte(a.user), nil
	case 2:
		return []byte(a.pass), nil
	}
	return nil, errors.New("unexpected server challenge during LOGIN authentication")
}

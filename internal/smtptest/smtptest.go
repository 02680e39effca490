// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on the loopback
// interface for tests: STARTTLS, implicit TLS or plain text with a self-signed certificate
// made for the test, optional AUTH PLAIN and LOGIN, and the received messages parsed (MIME
// multipart, quoted-printable, RFC 2047 subjects) for assertions.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mode is the server's connection security.
type Mode int

const (
	// StartTLS advertises STARTTLS on a plain listener.
	StartTLS Mode = iota
	// ImplicitTLS speaks TLS from the first byte.
	ImplicitTLS
	// Plain offers no TLS at all.
	Plain
)

// Options configure a Server.
type Options struct {
	Mode Mode
	// Mechanisms offered for AUTH ("PLAIN", "LOGIN"); none: AUTH is not offered. With
	// mechanisms, MAIL is refused until the client authenticated as Username/Password.
	Mechanisms []string
	Username   string
	Password   string
	// OnMessage, when set, is called with every accepted message.
	OnMessage func(Message)
}

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	// TLS reports whether the message came over TLS; AuthUser is who authenticated ("" for
	// nobody) and AuthMech how.
	TLS      bool
	AuthUser string
	AuthMech string
	Raw      []byte
	// Parsed content.
	Header  mail.Header
	Subject string // RFC 2047-decoded
	Text    string // the text/plain part, decoded
	HTML    string // the text/html part, decoded
	// ContentType is the top-level media type.
	ContentType string
}

// Server is a running test SMTP server.
type Server struct {
	// Host and Port are where it listens (127.0.0.1).
	Host string
	Port int
	// Roots trusts the server's certificate (for the client's tls.Config.RootCAs).
	Roots *x509.CertPool

	opts Options
	srv  *smtp.Server

	mu       sync.Mutex
	msgs     []Message
	conns    int
	received chan struct{}
}

// Start starts a server that stops when t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	cert, roots, err := SelfSigned("127.0.0.1", "localhost")
	if err != nil {
		t.Fatalf("smtptest: certificate: %v", err)
	}
	s := &Server{Roots: roots, opts: opts, received: make(chan struct{}, 1024)}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.ErrorLog = discard{}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	var ln net.Listener
	switch opts.Mode {
	case ImplicitTLS:
		ln, err = tls.Listen("tcp", "127.0.0.1:0", tlsCfg)
	case StartTLS:
		s.srv.TLSConfig = tlsCfg
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	default:
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port = addr.IP.String(), addr.Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		ln.Close() // Serve may not have registered ln with the server yet
		s.srv.Close()
		<-done
	})
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, fmt.Sprint(s.Port)) }

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// Connections counts the SMTP sessions clients opened (EHLO received).
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Received is signalled once per accepted message.
func (s *Server) Received() <-chan struct{} { return s.received }

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	return &session{s: s, c: c}, nil
}

type session struct {
	s        *Server
	c        *smtp.Conn
	authUser string
	authMech string
	from     string
	to       []string
}

func (ss *session) AuthMechanisms() []string { return ss.s.opts.Mechanisms }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != ss.s.opts.Username || pass != ss.s.opts.Password {
			return errors.New("invalid username or password")
		}
		ss.authUser, ss.authMech = user, mech
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return errors.New("identities not supported")
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if len(ss.s.opts.Mechanisms) > 0 && ss.authUser == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.c.TLSConnectionState()
	m := Message{From: ss.from, To: slices.Clone(ss.to), TLS: isTLS, AuthUser: ss.authUser, AuthMech: ss.authMech, Raw: raw}
	if err := Parse(&m); err != nil {
		return &smtp.SMTPError{Code: 554, Message: "unparsable message: " + err.Error()}
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, m)
	ss.s.mu.Unlock()
	if ss.s.opts.OnMessage != nil {
		ss.s.opts.OnMessage(m)
	}
	select {
	case ss.s.received <- struct{}{}:
	default:
	}
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// loginServer is the server side of the LOGIN mechanism, which go-sasl lacks.
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if len(resp) > 0 { // initial response carries the user name
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	case 3:
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, false, errors.New("unexpected LOGIN step")
}

// Parse fills m's parsed fields from m.Raw.
func Parse(m *Message) error {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return err
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return fmt.Errorf("subject: %w", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return fmt.Errorf("content-type: %w", err)
	}
	m.ContentType = mt
	switch {
	case mt == "multipart/alternative":
		mr := multipart.NewReader(msg.Body, params["boundary"])
		for {
			p, err := mr.NextPart() // decodes quoted-printable
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			b, err := io.ReadAll(p)
			if err != nil {
				return err
			}
			pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			switch pt {
			case "text/plain":
				m.Text = string(b)
			case "text/html":
				m.HTML = string(b)
			}
		}
	case strings.HasPrefix(mt, "text/"):
		var r io.Reader = msg.Body
		if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			r = quotedprintable.NewReader(r)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if mt == "text/html" {
			m.HTML = string(b)
		} else {
			m.Text = string(b)
		}
	default:
		return fmt.Errorf("unexpected content type %q", mt)
	}
	return nil
}

// SelfSigned returns a certificate for hosts (IP addresses or DNS names), valid for a day,
// and a pool that trusts it.
func SelfSigned(hosts ...string) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}

type discard struct{}

func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}

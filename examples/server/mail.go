package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/identitykit/identity/mail/smtp"
	"github.com/identitykit/identity/passwordreset"
)

// mailFlags are the password reset mail settings. The SMTP password is read from the
// environment only (IDENTITY_SMTP_PASSWORD), never from a flag, so it does not show in the
// process list.
type mailFlags struct {
	Host     string
	Port     int
	TLS      string
	Username string
	Password string
	From     string
	// ResetURL is the reset page's public URL; default PublicURL + "/password_reset".
	ResetURL      string
	ResetLifetime time.Duration
}

// addMailFlags registers the mail flags on fs.
func addMailFlags(fs *flag.FlagSet, env func(name, def string) string, envErrs *[]string, m *mailFlags) {
	fs.StringVar(&m.Host, "smtp-host", env("IDENTITY_SMTP_HOST", ""),
		"SMTP server for password reset mail (env IDENTITY_SMTP_HOST; default none: development mode, the reset link is logged instead of mailed)")
	port := 0
	if s := env("IDENTITY_SMTP_PORT", ""); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			*envErrs = append(*envErrs, fmt.Sprintf("IDENTITY_SMTP_PORT=%q: not a number", s))
		}
		port = n
	}
	fs.IntVar(&m.Port, "smtp-port", port, "SMTP port (env IDENTITY_SMTP_PORT; default 587 for starttls, 465 for tls)")
	fs.StringVar(&m.TLS, "smtp-tls", env("IDENTITY_SMTP_TLS", "starttls"),
		"SMTP connection security: starttls, tls (implicit, SMTPS) or insecure-plaintext (env IDENTITY_SMTP_TLS)")
	fs.StringVar(&m.Username, "smtp-user", env("IDENTITY_SMTP_USER", ""),
		"SMTP user name; the password comes from the environment variable IDENTITY_SMTP_PASSWORD only (env IDENTITY_SMTP_USER)")
	m.Password = env("IDENTITY_SMTP_PASSWORD", "")
	fs.StringVar(&m.From, "smtp-from", env("IDENTITY_SMTP_FROM", ""),
		"sender of password reset mail, e.g. \"Chat <no-reply@example.com>\" (env IDENTITY_SMTP_FROM; required with -smtp-host)")
	fs.StringVar(&m.ResetURL, "reset-url", env("IDENTITY_RESET_URL", ""),
		"public URL of the password reset page that mails link to (env IDENTITY_RESET_URL; default the public URL + /password_reset)")
	lifetime := time.Hour
	if s := env("IDENTITY_RESET_LIFETIME", ""); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			*envErrs = append(*envErrs, fmt.Sprintf("IDENTITY_RESET_LIFETIME=%q: not a duration", s))
		}
		lifetime = d
	}
	fs.DurationVar(&m.ResetLifetime, "reset-lifetime", lifetime, "how long a password reset link works (env IDENTITY_RESET_LIFETIME)")
}

// check validates the mail flags.
func (m *mailFlags) check() error {
	if _, err := smtp.ParseTLSMode(m.TLS); err != nil {
		return fmt.Errorf("-smtp-tls: %w", err)
	}
	if m.Host == "" {
		return nil
	}
	if m.From == "" {
		return fmt.Errorf("-smtp-from is required with -smtp-host")
	}
	if m.Password != "" && m.Username == "" {
		return fmt.Errorf("IDENTITY_SMTP_PASSWORD is set but -smtp-user is not")
	}
	if m.ResetLifetime <= 0 {
		return fmt.Errorf("-reset-lifetime must be positive")
	}
	return nil
}

// resetConfig returns the password reset settings (without the store, which run adds): SMTP
// when -smtp-host is set, otherwise the development mailer that logs the link.
func (c *config) resetConfig(log *slog.Logger) (passwordreset.Config, error) {
	m := c.Mail
	link := m.ResetURL
	if link == "" {
		link = c.publicURL() + "/password_reset"
	}
	rc := passwordreset.Config{LinkURL: link, Lifetime: m.ResetLifetime, Logger: log}
	if m.Host == "" {
		log.Warn("server: DEVELOPMENT MODE: no SMTP server is configured (-smtp-host); password reset links are written to this log instead of being mailed")
		rc.Mailer = devMailer{log: log}
		return rc, nil
	}
	mode, err := smtp.ParseTLSMode(m.TLS)
	if err != nil {
		return rc, err
	}
	mailer, err := smtp.New(smtp.Config{
		Host: m.Host, Port: m.Port, TLS: mode,
		Username: m.Username, Password: m.Password, From: m.From,
	})
	if err != nil {
		return rc, fmt.Errorf("server: %w", err)
	}
	rc.Mailer = mailer
	log.Info("server: password reset mail over SMTP", "host", m.Host, "tls", mode.String(), "auth", m.Username != "")
	return rc, nil
}

// devMailer is the development-mode passwordreset.Mailer: it sends nothing and logs the message's
// link (the first URL of its text) at warning level, clearly marked, so that reset works on a
// developer's machine without a mail server. Never use it in production: the log then holds
// working reset links.
type devMailer struct {
	log *slog.Logger
}

var firstURL = regexp.MustCompile(`https?://\S+`)

func (d devMailer) Send(ctx context.Context, m passwordreset.Message) error {
	link := firstURL.FindString(m.Text)
	if link == "" {
		link = strings.TrimSpace(m.Text)
	}
	d.log.WarnContext(ctx, "server: DEVELOPMENT MODE: mail not sent (no SMTP server configured)",
		"to", m.To, "subject", m.Subject, "link", link)
	return nil
}

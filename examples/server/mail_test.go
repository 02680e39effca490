package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/mail/smtp"
)

func TestMailFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.resetConfig(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rc.Mailer.(devMailer); !ok || rc.LinkURL != "http://localhost:8080/password_reset" || rc.Lifetime != time.Hour {
		t.Fatalf("defaults: mailer %T link %q lifetime %v", rc.Mailer, rc.LinkURL, rc.Lifetime)
	}

	c, err = parseConfig([]string{"-smtp-port", "2465", "-reset-lifetime", "30m"}, env(map[string]string{
		"IDENTITY_SMTP_HOST": "smtp.example.com", "IDENTITY_SMTP_TLS": "tls", "IDENTITY_SMTP_USER": "mailer",
		"IDENTITY_SMTP_PASSWORD": "from-env-only", "IDENTITY_SMTP_FROM": "Chat <no-reply@example.com>",
		"IDENTITY_PUBLIC_URL": "https://api.example.com/auth",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Mail.Port != 2465 || c.Mail.Password != "from-env-only" || c.Mail.TLS != "tls" {
		t.Fatalf("mail flags %+v", c.Mail)
	}
	rc, err = c.resetConfig(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rc.Mailer.(*smtp.Mailer); !ok || rc.LinkURL != "https://api.example.com/auth/password_reset" || rc.Lifetime != 30*time.Minute {
		t.Fatalf("SMTP: mailer %T link %q lifetime %v", rc.Mailer, rc.LinkURL, rc.Lifetime)
	}

	bad := []struct {
		args []string
		env  map[string]string
	}{
		{nil, map[string]string{"IDENTITY_SMTP_HOST": "smtp.example.com"}}, // no From
		{nil, map[string]string{"IDENTITY_SMTP_TLS": "ssl3"}},
		{nil, map[string]string{"IDENTITY_SMTP_PORT": "many"}},
		{nil, map[string]string{"IDENTITY_RESET_LIFETIME": "soon"}},
		{[]string{"-smtp-host", "h", "-smtp-from", "a@example.com", "-reset-lifetime", "-1m"}, nil},
		{[]string{"-smtp-host", "h", "-smtp-from", "a@example.com"}, map[string]string{"IDENTITY_SMTP_PASSWORD": "p"}}, // no user
	}
	for _, b := range bad {
		if _, err := parseConfig(b.args, env(b.env), io.Discard); err == nil {
			t.Errorf("parseConfig(%v, %v) accepted", b.args, b.env)
		}
	}
	var usage bytes.Buffer
	parseConfig([]string{"--help"}, env(nil), &usage)
	for _, v := range []string{"IDENTITY_SMTP_HOST", "IDENTITY_SMTP_PASSWORD", "IDENTITY_SMTP_FROM", "IDENTITY_RESET_URL", "development mode"} {
		if !strings.Contains(usage.String(), v) {
			t.Errorf("--help does not mention %s", v)
		}
	}
	if strings.Contains(usage.String(), "smtp-password") {
		t.Error("the SMTP password must not be a flag")
	}
}

// TestRunDevelopmentModeReset: without SMTP the server logs the reset link, marked as the
// development mode, and the link opens the reset page.
func TestRunDevelopmentModeReset(t *testing.T) {
	db := filepath.Join(t.TempDir(), "identity.db")
	cfg, err := parseConfig([]string{"-addr", "127.0.0.1:0", "-db", db, "-access-log=false"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), &out, func(a string) { ready <- a })
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	key := keyRE.FindStringSubmatch(out.String())[1]
	post := func(path, body string, hdr ...string) *http.Response {
		req, _ := http.NewRequest("POST", "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if r := post("/users.json", `{"user":{"login":"devuser","email":"dev@example.com","password":"devpassword"}}`, "CB-AuthKey", key); r.StatusCode != 201 {
		t.Fatalf("sign up: %d", r.StatusCode)
	}
	if r := post("/users/password/reset.json", `{"email":"dev@example.com"}`, "CB-AuthKey", key); r.StatusCode != 200 {
		t.Fatalf("reset request: %d", r.StatusCode)
	}
	cancel() // the shutdown sends (here: logs) what is queued
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	text := logs.String()
	if !strings.Contains(text, "DEVELOPMENT MODE: no SMTP server is configured") {
		t.Fatalf("no development-mode warning at start:\n%s", text)
	}
	m := regexp.MustCompile(`DEVELOPMENT MODE: mail not sent.*to=dev@example.com.*link="?(http://[^"\s]+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no logged reset link:\n%s", text)
	}
	// The link's port is the one listened on (-addr asked for port 0).
	if !regexp.MustCompile(`^http://` + regexp.QuoteMeta(addr) + `/password_reset\?token=[0-9a-f]{64}$`).MatchString(m[1]) {
		t.Fatalf("logged link %q", m[1])
	}
}

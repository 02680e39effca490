package e2e

import (
	"crypto/tls"
	"net/http"
	"regexp"
	"sync/atomic"
	"testing"

	"github.com/identitykit/identity/internal/smtptest"
	"github.com/identitykit/identity/mail/smtp"
	"github.com/identitykit/identity/passwordreset"
)

// Password reset mail for tests/password-reset.test.mjs: the API sends it with the real SMTP
// mailer (mail/smtp, STARTTLS and AUTH PLAIN) to an SMTP server in this process
// (internal/smtptest, go-smtp), and the control server hands the received messages to the
// Node tests:
//
//	GET /mail?to=ADDRESS  the messages received for ADDRESS, oldest first:
//	                      [{"to","subject","text","html"}]

// mailbox is the harness's SMTP side.
type mailbox struct {
	srv *smtptest.Server
	// rec receives every mailed reset token, so that server.check fails if one is logged.
	rec atomic.Pointer[recorder]
}

var mailedToken = regexp.MustCompile(`[?&]token=([0-9a-f]{64})`)

// startMail starts the SMTP server and returns it with the identity's reset settings, whose
// links point at linkURL.
func startMail(t *testing.T, linkURL string) (*mailbox, passwordreset.Config) {
	t.Helper()
	mb := &mailbox{}
	mb.srv = smtptest.Start(t, smtptest.Options{
		Mode:       smtptest.StartTLS,
		Mechanisms: []string{"PLAIN"},
		Username:   "e2e-mailer",
		Password:   "e2e-smtp-password",
		OnMessage: func(m smtptest.Message) {
			if rec := mb.rec.Load(); rec != nil {
				for _, tok := range mailedToken.FindAllStringSubmatch(m.Text, -1) {
					rec.addSecret(tok[1])
				}
			}
		},
	})
	mailer, err := smtp.New(smtp.Config{
		Host: mb.srv.Host, Port: mb.srv.Port, TLS: smtp.StartTLS,
		Username: "e2e-mailer", Password: "e2e-smtp-password",
		From:      "e2e <no-reply@e2e.example>",
		TLSConfig: &tls.Config{RootCAs: mb.srv.Roots},
	})
	if err != nil {
		t.Fatalf("e2e: smtp mailer: %v", err)
	}
	return mb, passwordreset.Config{
		Mailer:  mailer,
		LinkURL: linkURL,
		// One worker keeps the requests in order across addresses, so that once a mail has
		// arrived, every earlier request (to an unknown address too) has been handled.
		Workers: 1,
	}
}

// withMail adds GET /mail to the control handler.
func withMail(control http.Handler, mb *mailbox) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", control)
	mux.HandleFunc("GET /mail", func(w http.ResponseWriter, r *http.Request) {
		to := r.URL.Query().Get("to")
		out := []map[string]string{}
		for _, m := range mb.srv.Messages() {
			for _, rcpt := range m.To {
				if rcpt == to {
					out = append(out, map[string]string{"to": rcpt, "subject": m.Subject, "text": m.Text, "html": m.HTML})
				}
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	return mux
}

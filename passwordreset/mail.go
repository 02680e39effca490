package passwordreset

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/identitykit/identity"
)

// Message is one email.
type Message struct {
	// To is the recipient: one bare address ("user@example.com").
	To string
	// Subject is one line of text.
	Subject string
	// Text is the plain-text body.
	Text string
	// HTML, when not empty, is an HTML alternative of Text.
	HTML string
}

// Mailer sends email (mail/smtp implements it over SMTP). Send delivers one message or
// returns an error; it must honour ctx (cancellation and deadline), be safe for concurrent
// use, and keep the message's content (a reset link is a secret) out of its errors and logs.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// builtinEmail is the reset message used where neither Config.Email nor the application's
// AppSettings.ResetEmail sets a field.
var builtinEmail = identity.EmailTemplate{
	Subject: `{{.AppName}}: password reset`,
	Text: `Hello,

someone, hopefully you, asked to reset the password of the {{.AppName}} account {{.Email}}.

To choose a new password, open this link within {{.ValidFor}}:

{{.Link}}

The link works once. If you did not ask for a new password, ignore this message: your
password stays as it is.
`,
	HTML: `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{.AppName}}: password reset</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #1b1b1b;">
<p>Hello,</p>
<p>someone, hopefully you, asked to reset the password of the <strong>{{.AppName}}</strong> account {{.Email}}.</p>
<p>To choose a new password, open this link within {{.ValidFor}}:</p>
<p><a href="{{.Link}}" style="display: inline-block; padding: 0.6em 1.2em; background: #1a56db; color: #ffffff; text-decoration: none; border-radius: 4px;">Choose a new password</a></p>
<p style="font-size: 0.9em; color: #555555;">Or copy this address into your browser:<br>{{.Link}}</p>
<p>The link works once. If you did not ask for a new password, ignore this message: your password stays as it is.</p>
</body>
</html>
`,
}

// mailData is what a reset message template is executed with (identity.EmailTemplate
// documents the fields).
type mailData struct {
	AppName   string
	Email     string
	Login     string
	Link      string
	ValidFor  string
	ExpiresAt time.Time
}

// templates is a parsed identity.EmailTemplate.
type templates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// withDefaults fills the blank fields of t from d.
func withDefaults(t, d identity.EmailTemplate) identity.EmailTemplate {
	if strings.TrimSpace(t.Subject) == "" {
		t.Subject = d.Subject
	}
	if strings.TrimSpace(t.Text) == "" {
		t.Text = d.Text
	}
	if strings.TrimSpace(t.HTML) == "" {
		t.HTML = d.HTML
	}
	return t
}

// parse parses t (whose fields must all be set) and executes it once with sample data, so
// that a template naming an unknown field fails now. Errors name the field.
func parse(t identity.EmailTemplate) (*templates, error) {
	var r templates
	var err error
	if r.subject, err = texttemplate.New("subject").Option("missingkey=error").Parse(t.Subject); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	if r.text, err = texttemplate.New("text").Option("missingkey=error").Parse(t.Text); err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	if r.html, err = htmltemplate.New("html").Option("missingkey=error").Parse(t.HTML); err != nil {
		return nil, fmt.Errorf("html: %w", err)
	}
	if _, err := r.render(mailData{AppName: "app", Email: "user@example.com", Link: "https://example.com/password_reset?token=0", ValidFor: "1 hour"}); err != nil {
		return nil, err
	}
	return &r, nil
}

func (r *templates) render(d mailData) (Message, error) {
	var m Message
	var b bytes.Buffer
	if err := r.subject.Execute(&b, d); err != nil {
		return m, fmt.Errorf("subject: %w", err)
	}
	m.Subject = oneLine(b.String())
	b.Reset()
	if err := r.text.Execute(&b, d); err != nil {
		return m, fmt.Errorf("text: %w", err)
	}
	m.Text = b.String()
	b.Reset()
	if err := r.html.Execute(&b, d); err != nil {
		return m, fmt.Errorf("html: %w", err)
	}
	m.HTML = b.String()
	m.To = d.Email
	return m, nil
}

// oneLine folds s onto one line (a subject must not carry a header of its own).
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// resetMail renders the reset message of app: the application's template (AppSettings.
// ResetEmail) over Config.Email over the built-in one. An application template that no
// longer parses (the core validated it when it was stored) is logged and replaced by the
// default.
func (s *Service) resetMail(app *identity.Application, d mailData) (Message, error) {
	tmpl := s.tmpl
	if o := app.Settings.ResetEmail; o != (identity.EmailTemplate{}) {
		var err error
		if tmpl, err = parse(withDefaults(o, withDefaults(s.cfg.Email, builtinEmail))); err != nil {
			s.log.Error("passwordreset: the application's reset_email template is invalid; using the default", "application_id", app.ID, "err", err)
			tmpl = s.tmpl
		}
	}
	msg, err := tmpl.render(d)
	if err != nil {
		return msg, fmt.Errorf("passwordreset: rendering the reset mail: %w", err)
	}
	return msg, nil
}

// words says d the way a mail does: "1 hour", "90 minutes", "45 seconds".
func words(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	default:
		return plural(int64((d+time.Second-1)/time.Second), "second")
	}
}

// The email change notice, sent to the old address.
const (
	emailChangedSubject = `{{.AppName}}: your email address was changed`
	emailChangedText    = `Hello,

the email address of your {{.AppName}} account{{if .Login}} {{.Login}}{{end}} was changed from
{{.Email}} to another address on {{.At}}.

If you made this change, there is nothing to do. If you did not, someone else may be using
your account: contact the {{.AppName}} team.
`
)

var emailChangedTmpl = struct{ subject, text *texttemplate.Template }{
	texttemplate.Must(texttemplate.New("subject").Option("missingkey=error").Parse(emailChangedSubject)),
	texttemplate.Must(texttemplate.New("text").Option("missingkey=error").Parse(emailChangedText)),
}

// noticeEmailChange (the EmailChanged hook) queues a notice to cur's old address that its
// email changed to u's, when a Mailer is configured. The change has happened already: a full
// queue or a failed delivery is logged, never returned. The notice does not name the new
// address.
func (s *Service) noticeEmailChange(ctx context.Context, app *identity.Application, cur, u *identity.User) {
	if s.queue == nil {
		return
	}
	data := struct{ AppName, Login, Email, At string }{app.Name, u.Login, cur.Email, u.UpdatedAt.UTC().Format("2006-01-02 15:04 UTC")}
	var subj, text bytes.Buffer
	if err := emailChangedTmpl.subject.Execute(&subj, data); err != nil {
		s.log.ErrorContext(ctx, "passwordreset: rendering the email change notice failed", "err", err)
		return
	}
	if err := emailChangedTmpl.text.Execute(&text, data); err != nil {
		s.log.ErrorContext(ctx, "passwordreset: rendering the email change notice failed", "err", err)
		return
	}
	m := &Message{To: cur.Email, Subject: oneLine(subj.String()), Text: text.String()}
	if err := s.queue.add(cur.Email, job{appID: app.ID, email: cur.Email, notice: m}); err != nil {
		s.log.WarnContext(ctx, "passwordreset: email change notice not queued", "application_id", app.ID, "user_id", u.ID, "err", err)
	}
}

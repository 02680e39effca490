package remoteid

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/identitykit/identity"
)

// ProfileFields are the user fields MapProfile maps (uid is mapped apart).
var ProfileFields = map[string]bool{
	"login": true, "email": true, "full_name": true, "phone": true, "website": true,
	"avatar": true, "external_id": true, "custom_data": true, "tags": true,
}

// MapProfile renders the field templates over doc (see ProfileFields). Errors are
// *identity.Error values of op wrapping sentinel, naming the field whose template failed
// with the code "bad_mapping".
func MapProfile(templates map[string]Template, doc any, op string, sentinel error) (identity.UserInput, error) {
	var in identity.UserInput
	fields := make([]string, 0, len(templates))
	for f := range templates {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	mappingError := func(field string, err error) error {
		return identity.NewError(op, sentinel, field, "bad_mapping")
	}
	for _, f := range fields {
		v, ok, err := templates[f].Render(doc)
		if err != nil {
			return in, mappingError(f, err)
		}
		if !ok {
			continue
		}
		switch f {
		case "custom_data":
			s, ok := v.(string)
			if !ok {
				if s, err = CompactJSON(v); err != nil {
					return in, mappingError(f, err)
				}
			}
			in.CustomData = &s
		case "tags":
			var tags []string
			switch x := v.(type) {
			case []any:
				for _, e := range x {
					s, err := ScalarString(e)
					if err != nil {
						return in, mappingError(f, errors.New("is not an array of strings"))
					}
					tags = append(tags, s)
				}
			default:
				s, err := ScalarString(x)
				if err != nil {
					return in, mappingError(f, err)
				}
				tags = []string{s}
			}
			in.Tags = &tags
		default:
			s, err := ScalarString(v)
			if err != nil {
				return in, mappingError(f, err)
			}
			switch f {
			case "login":
				if strings.TrimSpace(s) != "" {
					in.Login = &s
				}
			case "email":
				in.Email = &s
			case "full_name":
				in.FullName = &s
			case "phone":
				in.Phone = &s
			case "website":
				in.Website = &s
			case "avatar":
				in.Avatar = &s
			case "external_id":
				in.ExternalID = &s
			}
		}
	}
	return in, nil
}

// SameOriginClient returns a copy of c (or of a default client) that follows at most 5
// redirects, and only to the scheme and host of the first request; any other redirect
// response is returned as the answer.
func SameOriginClient(c *http.Client) *http.Client {
	cp := &http.Client{}
	if c != nil {
		*cp = *c
	}
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		if len(via) > 5 || !strings.EqualFold(req.URL.Scheme, first.Scheme) || !strings.EqualFold(req.URL.Host, first.Host) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return cp
}

// Truncate cuts s to at most n bytes at a rune boundary, marking the cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// Fetch sends req within timeout and reads at most maxBody bytes of the answer, for
// providers that call a fixed upstream API. A failure to get the whole answer (no
// connection, timeout, a body over maxBody) is an error wrapping identity.ErrUnavailable
// whose text names neither the request URL nor its query (which may hold tokens); when ctx
// itself ended, the error wraps ctx.Err() instead. Any status is returned as it is.
func Fetch(ctx context.Context, c *http.Client, req *http.Request, timeout time.Duration, maxBody int64) (status int, body []byte, err error) {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := c.Do(req.WithContext(tctx))
	if err == nil {
		defer resp.Body.Close()
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, fmt.Errorf("request abandoned: %w", ctx.Err())
		}
		var te interface{ Timeout() bool }
		if tctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &te) && te.Timeout() {
			return 0, nil, fmt.Errorf("no answer within %s: %w", timeout, identity.ErrUnavailable)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, fmt.Errorf("%s: %w", err.Error(), identity.ErrUnavailable)
	}
	if int64(len(body)) > maxBody {
		return 0, nil, fmt.Errorf("answer exceeds %d bytes: %w", maxBody, identity.ErrUnavailable)
	}
	return resp.StatusCode, body, nil
}

// Refusal is the error a provider returns for credentials its upstream did not accept. Its
// text says only that the credentials are invalid; Reason, for logs and errors.Is, says why.
// It wraps identity.ErrInvalidCredentials.
type Refusal struct {
	// Provider is the provider's name, the prefix of the text.
	Provider string
	// Reason is why the credentials were refused.
	Reason error
}

func (e *Refusal) Error() string { return e.Provider + ": invalid credentials" }

// Unwrap returns identity.ErrInvalidCredentials and the reason.
func (e *Refusal) Unwrap() []error { return []error{identity.ErrInvalidCredentials, e.Reason} }

// Redact replaces every secret (of at least 4 bytes) in text, raw or URL-encoded, by
// "[FILTERED]", and cuts the result to 512 bytes: for quoting an upstream's error message
// in a log line.
func Redact(text string, secrets ...string) string {
	for _, s := range secrets {
		if len(s) < 4 {
			continue
		}
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			text = strings.ReplaceAll(text, form, "[FILTERED]")
		}
	}
	return Truncate(text, 512)
}

// ServerFailure reports whether an upstream status means the upstream, not the client's
// credentials, failed: 5xx, and 429 (the application's rate limit at the upstream).
func ServerFailure(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests
}

// Bounds applies the defaults of an upstream provider's Config: a zero timeout becomes
// defTimeout, a zero maxBody defMax, a nil logger slog.Default(). Negative values are an
// error naming the provider.
func Bounds(provider string, timeout *time.Duration, maxBody *int64, logger **slog.Logger, defTimeout time.Duration, defMax int64) error {
	if *timeout < 0 || *maxBody < 0 {
		return fmt.Errorf("%s: Config.Timeout and Config.MaxResponseBytes must not be negative", provider)
	}
	if *timeout == 0 {
		*timeout = defTimeout
	}
	if *maxBody == 0 {
		*maxBody = defMax
	}
	if *logger == nil {
		*logger = slog.Default()
	}
	return nil
}

// BaseURL parses an upstream provider's configured base URL: absolute http or https,
// without query, fragment or user info; a trailing "/" is dropped.
func BaseURL(provider, field, s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%s: Config.%s must be an absolute http or https URL without query, fragment or user info", provider, field)
	}
	return u, nil
}

package remoteid

import (
	"errors"
	"net/http"
	"sort"
	"strings"
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

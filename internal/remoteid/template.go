// Package remoteid holds what the providers that map a remote identity to a user share
// (provider/cidp's identity service answers, provider/oidc's ID token claims): #{...}
// templates over JSON documents, the mapping of templates to user fields, an HTTP client
// that follows redirects only within one origin, and, for the providers that call a fixed
// upstream API (provider/facebook, provider/twitter), a bounded fetch, the refusal error and
// log redaction.
package remoteid

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Template is a string with #{...} Placeholders, parsed once. A request Template names
// request variables (#{login}); a response Template names a path into a JSON document
// (#{user.id}).
type Template struct {
	// parts holds literal text and Placeholders in order.
	parts []part
}

type part struct {
	lit  string
	name string // placeholder name or path; "" for literal text
}

// Parse splits s into literal text and #{name} Placeholders. An unterminated or
// empty placeholder is an error.
func Parse(s string) (Template, error) {
	var t Template
	for {
		i := strings.Index(s, "#{")
		if i < 0 {
			if s != "" {
				t.parts = append(t.parts, part{lit: s})
			}
			return t, nil
		}
		if i > 0 {
			t.parts = append(t.parts, part{lit: s[:i]})
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j < 0 {
			return Template{}, errors.New("unterminated #{ placeholder")
		}
		name := strings.TrimSpace(s[i+2 : i+2+j])
		if name == "" {
			return Template{}, errors.New("empty #{} placeholder")
		}
		t.parts = append(t.parts, part{name: name})
		s = s[i+2+j+1:]
	}
}

// Placeholders returns the names used in t.
func (t Template) Placeholders() []string {
	var out []string
	for _, p := range t.parts {
		if p.name != "" {
			out = append(out, p.name)
		}
	}
	return out
}

// single reports the path of a Template that is exactly one placeholder.
func (t Template) single() (string, bool) {
	if len(t.parts) == 1 && t.parts[0].name != "" {
		return t.parts[0].name, true
	}
	return "", false
}

// Expand substitutes request variables, raw (the caller encodes for the destination).
func (t Template) Expand(vars map[string]string) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.lit)
		} else {
			b.WriteString(vars[p.name])
		}
	}
	return b.String()
}

// Lookup walks path ("user.id", "items.0.name") through a JSON value decoded with
// UseNumber. Object keys are matched exactly; a numeric segment indexes an array. The
// second result is false when the path does not exist or ends at null.
func Lookup(doc any, path string) (any, bool) {
	cur := doc
	for _, seg := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[seg]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, cur != nil
}

// errNotScalar reports a mapped value that is an object or an array where a string was
// expected.
var errNotScalar = errors.New("is not a string or a number")

// ScalarString renders a JSON scalar as text: strings as they are, numbers exactly as
// written, booleans as "true"/"false".
func ScalarString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	default:
		return "", errNotScalar
	}
}

// Render evaluates a response Template against doc. A Template that is exactly one
// placeholder yields the value at its path (ok false when absent); a Template mixing text
// and Placeholders yields text with absent Placeholders as "", and ok false only when every
// placeholder is absent.
func (t Template) Render(doc any) (v any, ok bool, err error) {
	if path, one := t.single(); one {
		v, ok := Lookup(doc, path)
		return v, ok, nil
	}
	var b strings.Builder
	found := len(t.Placeholders()) == 0
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.lit)
			continue
		}
		v, ok := Lookup(doc, p.name)
		if !ok {
			continue
		}
		s, err := ScalarString(v)
		if err != nil {
			return nil, false, fmt.Errorf("#{%s} %w", p.name, err)
		}
		found = true
		b.WriteString(s)
	}
	if !found {
		return nil, false, nil
	}
	return b.String(), true, nil
}

// CompactJSON renders any decoded JSON value as compact JSON text.
func CompactJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/provider/cidp"
	"github.com/identitykit/identity/provider/firebase"
	"github.com/identitykit/identity/provider/oidc"
)

// Application settings as the apps commands read and write them: every field of
// identity.AppSettings by its JSON name, a field of a nested struct as "parent.field", a
// provider's configuration as "providers.NAME" (JSON). Durations are written as Go
// durations ("30m"), not the nanoseconds the settings hold.

// settingLine is one setting for display: its key, its text, and its value for JSON.
type settingLine struct {
	key   string
	text  string
	value any
}

var durationType = reflect.TypeFor[time.Duration]()

// jsonName is the name encoding/json gives field f.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// settingsView lists every setting of s, defaults included, in the order of the struct;
// the values of the secret provider fields are hidden unless reveal.
func settingsView(s identity.AppSettings, reveal bool) []settingLine {
	var out []settingLine
	rv := reflect.ValueOf(s)
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		key := jsonName(f)
		v := rv.Field(i)
		switch {
		case f.Name == "Providers":
			if len(s.Providers) == 0 {
				out = append(out, settingLine{key, "none", map[string]any{}})
			}
			for _, name := range slices.Sorted(maps.Keys(s.Providers)) {
				text := providerText(name, s.Providers[name], reveal)
				var obj any
				if json.Unmarshal([]byte(text), &obj) != nil {
					obj = text
				}
				out = append(out, settingLine{key + "." + name, text, obj})
			}
		case v.Kind() == reflect.Struct:
			for j := range v.NumField() {
				out = append(out, scalarLine(key+"."+jsonName(f.Type.Field(j)), v.Field(j)))
			}
		default:
			out = append(out, scalarLine(key, v))
		}
	}
	return out
}

func scalarLine(key string, v reflect.Value) settingLine {
	switch {
	case v.Type() == durationType:
		d := time.Duration(v.Int()).String()
		return settingLine{key, d, d}
	case v.Kind() == reflect.String:
		if v.String() == "" {
			return settingLine{key, `""`, ""}
		}
		return settingLine{key, v.String(), v.String()}
	}
	return settingLine{key, fmt.Sprint(v.Interface()), v.Interface()}
}

// settingsJSON nests the lines of settingsView by their dotted keys, for -json.
func settingsJSON(lines []settingLine) map[string]any {
	out := map[string]any{}
	for _, l := range lines {
		parent, child, nested := strings.Cut(l.key, ".")
		if !nested {
			out[l.key] = l.value
			continue
		}
		m, ok := out[parent].(map[string]any)
		if !ok {
			m = map[string]any{}
			out[parent] = m
		}
		m[child] = l.value
	}
	return out
}

// applySettingArgs applies KEY=VALUE pairs to s in order. Bad pairs are usage errors naming
// the key; the values of provider configurations, which may hold secrets, are never quoted.
func applySettingArgs(s *identity.AppSettings, pairs []string) error {
	for _, p := range pairs {
		key, value, ok := strings.Cut(p, "=")
		if !ok || key == "" {
			return usagef("%q: want KEY=VALUE (\"server apps show ID\" lists the keys)", p)
		}
		if err := setSetting(s, key, value); err != nil {
			return err
		}
	}
	if pp := s.PasswordProvider; pp != "" && len(bytes.TrimSpace(s.Providers[pp])) == 0 {
		return usagef("password_provider %q: that provider has no configuration (set providers.%s)", pp, pp)
	}
	return nil
}

// setSetting sets the setting key of s from its text.
func setSetting(s *identity.AppSettings, key, value string) error {
	top, sub, nested := strings.Cut(key, ".")
	rv := reflect.ValueOf(s).Elem()
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		if jsonName(f) != top {
			continue
		}
		v := rv.Field(i)
		switch {
		case f.Name == "Providers":
			if nested {
				return setProvider(s, sub, value)
			}
			return setProviders(s, value)
		case v.Kind() == reflect.Struct && nested:
			for j := range v.NumField() {
				if strings.EqualFold(jsonName(f.Type.Field(j)), sub) {
					return setScalar(v.Field(j), key, value)
				}
			}
		case v.Kind() == reflect.Struct:
			fresh := reflect.New(f.Type)
			if strings.TrimSpace(value) != "" {
				dec := json.NewDecoder(strings.NewReader(value))
				dec.DisallowUnknownFields()
				if err := dec.Decode(fresh.Interface()); err != nil {
					return usagef("%s: want a JSON object of its fields: %v", key, err)
				}
			}
			v.Set(fresh.Elem())
			return nil
		case !nested:
			return setScalar(v, key, value)
		}
	}
	return usagef("%s: no such setting (\"server apps show ID\" lists them)", key)
}

// setScalar sets v, a bool, number, duration or string setting, from its text; an empty
// text restores the zero value (the default), except for a bool.
func setScalar(v reflect.Value, key, text string) error {
	text = strings.TrimSpace(text)
	switch {
	case v.Type() == durationType:
		if text == "" {
			v.SetInt(0)
			return nil
		}
		d, err := time.ParseDuration(text)
		if err != nil || d < 0 {
			return usagef("%s=%q: want a duration such as 30m or 2h (empty for the default)", key, text)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return usagef("%s=%q: want true or false", key, text)
		}
		v.SetBool(b)
	case v.CanInt():
		if text == "" {
			v.SetInt(0)
			return nil
		}
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil || v.OverflowInt(n) {
			return usagef("%s=%q: want a whole number (empty for the default)", key, text)
		}
		v.SetInt(n)
	case v.Kind() == reflect.String:
		v.SetString(text)
	default:
		return usagef("%s: cannot be set from the command line", key)
	}
	return nil
}

// setProviders replaces every provider configuration with those of a JSON object by
// provider name; an empty value removes them all.
func setProviders(s *identity.AppSettings, value string) error {
	m := map[string]json.RawMessage{}
	if strings.TrimSpace(value) != "" {
		if err := json.Unmarshal([]byte(value), &m); err != nil {
			return usagef("providers: want a JSON object of configurations by provider name")
		}
	}
	for name := range s.Providers {
		if _, keep := m[name]; !keep {
			if err := setProvider(s, name, ""); err != nil {
				return err
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if err := setProvider(s, name, string(m[name])); err != nil {
			return err
		}
	}
	return nil
}

// setProvider sets the configuration of provider name from JSON, checked by the provider's
// package as its Enable does (CIdP then takes the application's logins, as enabling it in
// ConnectyCube does); an empty value or null removes it, and the routing of logins to it.
func setProvider(s *identity.AppSettings, name, value string) error {
	value = strings.TrimSpace(value)
	if value == "" || value == "null" {
		if _, ok := s.Providers[name]; !ok {
			return nil
		}
		m := maps.Clone(s.Providers)
		delete(m, name)
		if len(m) == 0 {
			m = nil
		}
		s.Providers = m
		if s.PasswordProvider == name {
			s.PasswordProvider = ""
		}
		return nil
	}
	var err error
	switch name {
	case "cidp":
		var p *cidp.Provider
		if p, err = cidp.New(cidp.Config{}); err == nil {
			err = enableFrom(s, value, p.Enable)
		}
	case "oidc":
		var p *oidc.Provider
		if p, err = oidc.New(oidc.Config{}); err == nil {
			err = enableFrom(s, value, p.Enable)
		}
	case firebase.PhoneProvider, firebase.EmailProvider:
		var p *firebase.Provider
		if p, err = firebase.New(firebase.Config{Name: name}); err == nil {
			err = enableFrom(s, value, p.Enable)
		}
	default:
		return usagef("providers.%s: unknown provider (want cidp, oidc, %s or %s)", name, firebase.PhoneProvider, firebase.EmailProvider)
	}
	if err != nil {
		return usagef("providers.%s: %v", name, err)
	}
	return nil
}

// enableFrom decodes text, a JSON object, into a provider's application configuration C
// (refusing fields C does not have) and enables it on s. A decoding error names the problem
// without quoting the text, which may hold a secret.
func enableFrom[C any](s *identity.AppSettings, text string, enable func(*identity.AppSettings, C) error) error {
	var c C
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
			return errors.New("not valid JSON")
		}
		return fmt.Errorf("want a JSON object of the provider's settings: %v", err)
	}
	return enable(s, c)
}

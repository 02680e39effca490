package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/provider/firebase"
)

// ensureApplication returns the first application of the database, creating one with the
// settings of cfg's flags on first start. After that the database holds the settings
// ("server apps set" changes them): a flag given (on the command line or by its variable)
// that disagrees with the stored value is reported by warnFlagDrift and not applied.
func ensureApplication(ctx context.Context, id *identity.Identity, cfg *config, log *slog.Logger) (*identity.Application, bool, error) {
	apps, err := id.Applications(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("server: listing applications: %w", err)
	}
	if len(apps) == 0 {
		app, err := id.CreateApplication(ctx, cfg.AppName, cfg.applySettings(identity.AppSettings{}))
		if err != nil {
			return nil, false, fmt.Errorf("server: creating the application: %w", err)
		}
		return app, true, nil
	}
	app := apps[0]
	warnFlagDrift(log, cfg, app)
	if len(apps) > 1 {
		log.Info("server: serving every application of the database", "applications", len(apps))
	}
	return app, false, nil
}

// flagSetting is an application setting some flags seed: its name in "server apps set",
// the flags that set it, and how to read it from the settings for comparison and display.
type flagSetting struct {
	name  string
	flags []string
	value func(identity.AppSettings) string
}

// flagSettings are the settings cfg.applySettings governs.
var flagSettings = []flagSetting{
	{"deny_auto_create", []string{"deny-auto-create"}, func(s identity.AppSettings) string { return fmt.Sprint(s.DenyAutoCreate) }},
	{"disable_user_list", []string{"disable-user-list"}, func(s identity.AppSettings) string { return fmt.Sprint(s.DisableUserList) }},
	{"disable_users_v1", []string{"disable-users-v1"}, func(s identity.AppSettings) string { return fmt.Sprint(s.DisableUsersV1) }},
	{"hide_contact_info", []string{"hide-contact-info"}, func(s identity.AppSettings) string { return fmt.Sprint(s.HideContactInfo) }},
	{"require_signature", []string{"require-signature"}, func(s identity.AppSettings) string { return fmt.Sprint(s.RequireSignature) }},
	{"local_sign_up", []string{"local-sign-up"}, func(s identity.AppSettings) string { return fmt.Sprintf("%q", s.LocalSignUp) }},
	{"email_change_needs_password", []string{"email-change-needs-password"}, func(s identity.AppSettings) string { return fmt.Sprint(s.EmailChangeNeedsPassword) }},
	{"session_idle", []string{"session-idle"}, func(s identity.AppSettings) string { return s.SessionIdle.String() }},
	{"guest_lifetime", []string{"guest-lifetime"}, func(s identity.AppSettings) string { return s.GuestLifetime.String() }},
	{"password_provider", []string{"cidp-endpoint"}, func(s identity.AppSettings) string { return fmt.Sprintf("%q", s.PasswordProvider) }},
	providerSetting(firebase.PhoneProvider, "firebase-project-ids", "firebase-providers"),
	providerSetting(firebase.EmailProvider, "firebase-project-ids", "firebase-providers", "firebase-require-email-verified"),
	providerSetting("cidp", "cidp-endpoint", "cidp-method", "cidp-request-headers", "cidp-request-params", "cidp-response-params", "cidp-request-format"),
	providerSetting("oidc", "oidc-issuer", "oidc-client-ids", "oidc-algorithms", "oidc-jwks-url", "oidc-claims"),
}

func providerSetting(name string, flags ...string) flagSetting {
	return flagSetting{"providers." + name, flags, func(s identity.AppSettings) string {
		return providerText(name, s.Providers[name], false)
	}}
}

// secretProviderFields are the fields of provider configurations that may hold a secret
// (an API key in a CIdP request header): shown as "(hidden)" unless revealed.
var secretProviderFields = []string{"request_headers"}

// providerText renders a provider's configuration as compact JSON with its object keys
// sorted (so that equal configurations render alike), "none" when there is none, and the
// values of secretProviderFields hidden unless reveal.
func providerText(name string, raw json.RawMessage, reveal bool) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "none"
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "(not a JSON object)"
	}
	if !reveal {
		for _, k := range secretProviderFields {
			if m, ok := v[k].(map[string]any); ok {
				for h := range m {
					m[h] = "(hidden)"
				}
			}
		}
	}
	b, err := json.Marshal(v) // sorts the keys
	if err != nil {
		return "(unprintable)"
	}
	return string(b)
}

// warnFlagDrift logs a warning for each setting of app that a flag given in cfg would set
// to another value: the flag, its value and the stored value, which is kept.
func warnFlagDrift(log *slog.Logger, cfg *config, app *identity.Application) {
	stored := app.Settings
	flagged := cfg.applySettings(stored)
	for _, s := range flagSettings {
		i := slices.IndexFunc(s.flags, func(f string) bool { return cfg.given[f] })
		if i < 0 {
			continue
		}
		if fv, sv := s.value(flagged), s.value(stored); fv != sv {
			log.Warn("server: a flag disagrees with the application's stored setting; the stored value is kept (change it with \"server apps set\")",
				"application_id", app.ID, "setting", s.name, "flag", "-"+s.flags[i], "flag_value", fv, "stored_value", sv)
		}
	}
}

// envNameRE finds the variable a flag's help text names.
var envNameRE = regexp.MustCompile(`\benv (IDENTITY_[A-Z0-9_]+)`)

// givenFlags returns the names of the flags of fs set on the command line or through the
// variable their help names.
func givenFlags(fs *flag.FlagSet, getenv func(string) string) map[string]bool {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) {
		if m := envNameRE.FindStringSubmatch(f.Usage); m != nil && strings.TrimSpace(getenv(m[1])) != "" {
			given[f.Name] = true
		}
	})
	return given
}

// sameFlagSettings reports whether the stored settings a already are b, the settings with
// the flags applied (applySettings): comparing them whole, no governed field can be missed.
func sameFlagSettings(a, b identity.AppSettings) bool { return reflect.DeepEqual(a, b) }

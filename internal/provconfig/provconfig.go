// Package provconfig stores a provider's per-application configuration in
// identity.AppSettings.Providers, for the providers' Enable functions.
package provconfig

import (
	"encoding/json"
	"maps"

	"github.com/identitykit/identity"
)

// Set stores the JSON of c as s.Providers[name], replacing any previous value. It sets a
// new map on s, so other copies of the settings (which share the old map) do not change. On
// error (c does not marshal) s is unchanged.
func Set(s *identity.AppSettings, name string, c any) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	m := make(map[string]json.RawMessage, len(s.Providers)+1)
	maps.Copy(m, s.Providers)
	m[name] = raw
	s.Providers = m
	return nil
}

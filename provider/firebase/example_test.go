package firebase_test

import (
	"encoding/json"
	"fmt"
	"log"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/provider/firebase"
)

// Each provider is built once per process and passed to identity.New; each application
// then names the Firebase projects it accepts.
func Example() {
	phone, err := firebase.New(firebase.Config{Name: firebase.PhoneProvider})
	if err != nil {
		log.Fatal(err)
	}
	email, err := firebase.New(firebase.Config{Name: firebase.EmailProvider})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(phone.Name(), email.Name())

	var settings identity.AppSettings
	if err := phone.Enable(&settings, firebase.AppConfig{ProjectIDs: []string{"my-app-1a2b3"}}); err != nil {
		log.Fatal(err)
	}
	if err := email.Enable(&settings, firebase.AppConfig{
		ProjectIDs:           []string{"my-app-1a2b3"},
		RequireEmailVerified: true,
	}); err != nil {
		log.Fatal(err)
	}
	b, _ := json.Marshal(settings.Providers)
	fmt.Println(string(b))
	// Then: identity.New(identity.Config{..., Providers: []identity.Provider{..., phone, email}})
	// and id.CreateApplication(ctx, name, settings) or id.UpdateApplicationSettings.

	// Output:
	// firebase_phone firebase_email
	// {"firebase_email":{"project_ids":["my-app-1a2b3"],"require_email_verified":true},"firebase_phone":{"project_ids":["my-app-1a2b3"]}}
}

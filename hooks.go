package identity

import (
	"context"
	"time"
)

// Hooks lets a package built on an Identity take part in the core's work on users: file
// storage vets avatars and removes stale files, password reset forgets its tokens when a
// password changes and tells the old address about an email change. Every field is optional.
// Register with Identity.AddHooks before the Identity serves requests; the hooks of every
// registration run, in registration order.
type Hooks struct {
	// CheckAvatar vets a user's new avatar before the user is created or updated (userID is
	// 0 on sign-up). A non-nil error refuses the change and is returned to the caller as it
	// is, so it should be an *Error naming the "avatar" field.
	CheckAvatar func(ctx context.Context, appID, userID int64, avatar string) error
	// PasswordChanged runs after a user's new password was stored and the user's other
	// sessions were revoked. An error is returned to the caller; the password stays changed.
	PasswordChanged func(ctx context.Context, appID, userID int64) error
	// EmailChanged runs after a user's email changed from old.Email (never "") to u.Email.
	// It cannot fail the change: it handles its own errors.
	EmailChanged func(ctx context.Context, app *Application, old, u *User)
	// Sweep runs in every janitor pass (DeleteExpired), after the Store's purge, with the
	// Identity's clock. Its error ends the pass with that error.
	Sweep func(ctx context.Context, now time.Time) error
	// Shutdown runs in Identity.Shutdown after the janitors stopped; it stops what the
	// package started, within ctx.
	Shutdown func(ctx context.Context) error
}

// AddHooks registers h. Call it before the Identity serves requests.
func (id *Identity) AddHooks(h Hooks) {
	id.mu.Lock()
	defer id.mu.Unlock()
	id.hooks = append(id.hooks, h)
}

// registered returns the hooks registered so far.
func (id *Identity) registered() []Hooks {
	id.mu.Lock()
	defer id.mu.Unlock()
	return id.hooks
}

func (id *Identity) checkAvatarHooks(ctx context.Context, appID, userID int64, avatar string) error {
	for _, h := range id.registered() {
		if h.CheckAvatar != nil {
			if err := h.CheckAvatar(ctx, appID, userID, avatar); err != nil {
				return err
			}
		}
	}
	return nil
}

func (id *Identity) passwordChangedHooks(ctx context.Context, appID, userID int64) error {
	for _, h := range id.registered() {
		if h.PasswordChanged != nil {
			if err := h.PasswordChanged(ctx, appID, userID); err != nil {
				return err
			}
		}
	}
	return nil
}

func (id *Identity) emailChangedHooks(ctx context.Context, app *Application, old, u *User) {
	for _, h := range id.registered() {
		if h.EmailChanged != nil {
			h.EmailChanged(ctx, app, old, u)
		}
	}
}

func (id *Identity) sweepHooks(ctx context.Context, now time.Time) error {
	for _, h := range id.registered() {
		if h.Sweep != nil {
			if err := h.Sweep(ctx, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// shutdownHooks runs every Shutdown hook and returns the first error.
func (id *Identity) shutdownHooks(ctx context.Context) error {
	var first error
	for _, h := range id.registered() {
		if h.Shutdown != nil {
			if err := h.Shutdown(ctx); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

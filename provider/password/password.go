// Package password is the login/email + password provider and the argon2id PasswordHasher.
//
// Hashes are argon2id in the PHC string format, created by github.com/alexedwards/argon2id,
// with OWASP's parameters by default (m=19 MiB, t=2, p=1). Stored hashes with other
// parameters are verified as long as they are within the configured bounds and are replaced
// by a fresh hash after the next successful login. At most MaxConcurrent hash computations run
// at once; a caller that waits longer than MaxWait gets identity.ErrBusy, so a login flood
// cannot exhaust memory. A login for an unknown user spends one full verification against a
// dummy hash, so it costs what a wrong password costs.
package password

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"

	"github.com/identitykit/identity"
)

// Config configures a Provider. The zero value means every default.
type Config struct {
	// Memory in KiB; default 19456 (19 MiB).
	Memory uint32
	// Iterations; default 2.
	Iterations uint32
	// Parallelism; default 1.
	Parallelism uint8
	// MaxConcurrent bounds concurrent hash computations; default runtime.GOMAXPROCS(0).
	MaxConcurrent int
	// MaxWait bounds how long a caller waits for a hashing slot before ErrBusy; default 3 s.
	MaxWait time.Duration
	// MaxMemory, MaxIterations and MaxParallelism bound the parameters accepted from a stored
	// hash (a tampered row must not make one login cost gigabytes); defaults 256 MiB, 16, 16.
	MaxMemory      uint32
	MaxIterations  uint32
	MaxParallelism uint8
	// ObserveSlotWait, when set, is told how long each hash computation waited for a slot
	// (0 when one was free) and how the wait ended: err nil (a slot was taken),
	// identity.ErrBusy (MaxWait passed) or the context's error. For metrics; it must be quick
	// and safe for concurrent use. Default nil.
	ObserveSlotWait func(wait time.Duration, err error)
}

// Provider is the "password" provider and the argon2id hasher. Safe for concurrent use.
type Provider struct {
	params argon2id.Params
	cfg    Config
	slots  chan struct{}
	dummy  string

	// compare and create are the argon2id primitives; tests count calls through them.
	compare func(password, hash string) (bool, *argon2id.Params, error)
	create  func(password string, p *argon2id.Params) (string, error)
}

var (
	_ identity.Provider       = (*Provider)(nil)
	_ identity.PasswordHasher = (*Provider)(nil)
)

// New returns a Provider for cfg.
func New(cfg Config) (*Provider, error) {
	if cfg.Memory == 0 {
		cfg.Memory = 19 * 1024
	}
	if cfg.Iterations == 0 {
		cfg.Iterations = 2
	}
	if cfg.Parallelism == 0 {
		cfg.Parallelism = 1
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 3 * time.Second
	}
	if cfg.MaxMemory == 0 {
		cfg.MaxMemory = 256 * 1024
	}
	if cfg.MaxIterations == 0 {
		cfg.MaxIterations = 16
	}
	if cfg.MaxParallelism == 0 {
		cfg.MaxParallelism = 16
	}
	if cfg.Memory < 8*uint32(cfg.Parallelism) || cfg.Memory > cfg.MaxMemory || cfg.Iterations > cfg.MaxIterations || cfg.Parallelism > cfg.MaxParallelism {
		return nil, errors.New("password: argon2id parameters out of bounds")
	}
	p := &Provider{
		params: argon2id.Params{Memory: cfg.Memory, Iterations: cfg.Iterations, Parallelism: cfg.Parallelism, SaltLength: 16, KeyLength: 32},
		cfg:    cfg,
		slots:  make(chan struct{}, cfg.MaxConcurrent),
		compare: func(pw, h string) (bool, *argon2id.Params, error) {
			return argon2id.CheckHash(pw, h)
		},
		create: argon2id.CreateHash,
	}
	dummy, err := argon2id.CreateHash("identity-dummy-password", &p.params)
	if err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	p.dummy = dummy
	return p, nil
}

// Name returns "password".
func (p *Provider) Name() string { return "password" }

// Params returns the argon2id parameters new hashes are made with.
func (p *Provider) Params() argon2id.Params { return p.params }

func (p *Provider) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		if p.cfg.ObserveSlotWait != nil {
			p.cfg.ObserveSlotWait(0, nil)
		}
		return nil
	default:
	}
	if p.cfg.ObserveSlotWait == nil {
		return p.wait(ctx)
	}
	start := time.Now()
	err := p.wait(ctx)
	p.cfg.ObserveSlotWait(time.Since(start), err)
	return err
}

// wait waits for a hashing slot, at most MaxWait.
func (p *Provider) wait(ctx context.Context) error {
	t := time.NewTimer(p.cfg.MaxWait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-t.C:
		return identity.ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Provider) release() { <-p.slots }

// Hash returns an argon2id hash of password with the configured parameters.
func (p *Provider) Hash(ctx context.Context, password string) (string, error) {
	if err := p.acquire(ctx); err != nil {
		return "", err
	}
	defer p.release()
	return p.create(password, &p.params)
}

// Verify reports whether password matches encoded and whether encoded should be rehashed.
// A hash that is malformed or whose parameters exceed the bounds never matches; it still
// costs one verification of the dummy hash.
func (p *Provider) Verify(ctx context.Context, password, encoded string) (match, rehash bool, err error) {
	if err := p.acquire(ctx); err != nil {
		return false, false, err
	}
	defer p.release()
	if !p.acceptable(encoded) {
		_, _, _ = p.compare(password, p.dummy)
		return false, false, nil
	}
	ok, params, err := p.compare(password, encoded)
	if err != nil {
		return false, false, nil
	}
	if !ok {
		return false, false, nil
	}
	rehash = params.Memory != p.params.Memory || params.Iterations != p.params.Iterations ||
		params.Parallelism != p.params.Parallelism || params.KeyLength != p.params.KeyLength ||
		params.SaltLength < p.params.SaltLength
	return true, rehash, nil
}

func (p *Provider) acceptable(encoded string) bool {
	if !strings.HasPrefix(encoded, "$argon2id$") || len(encoded) > 512 {
		return false
	}
	params, salt, key, err := argon2id.DecodeHash(encoded)
	if err != nil {
		return false
	}
	return params.Memory >= 8*uint32(params.Parallelism) && params.Memory <= p.cfg.MaxMemory &&
		params.Iterations >= 1 && params.Iterations <= p.cfg.MaxIterations &&
		params.Parallelism >= 1 && params.Parallelism <= p.cfg.MaxParallelism &&
		len(salt) >= 8 && len(key) >= 16 && len(key) <= 64
}

// Authenticate verifies a login or email and a password. A known user with the right password
// yields Claims.UserID (with Rehash when its hash parameters are outdated). An unknown user
// yields NewUser claims (auto sign-up) unless the application denies auto-creation, in which
// case, as for a wrong password, ErrInvalidCredentials; either way one full argon2id
// computation is spent. Guests and users without a password cannot log in here.
func (p *Provider) Authenticate(ctx context.Context, req *identity.AuthRequest) (*identity.Claims, error) {
	c := req.Credentials
	policy := req.Application.Settings.PasswordPolicy
	login := strings.TrimSpace(c.Login)
	email := identity.NormalizeEmail(c.Email)
	if login == "" && email == "" {
		return nil, identity.NewError("login", identity.ErrInvalidInput, "", "login_or_email_required")
	}
	if c.Password == "" {
		return nil, identity.NewError("login", identity.ErrInvalidInput, "password", "blank")
	}
	max := policy.MaxLength
	if max <= 0 {
		max = 128
	}
	if !utf8.ValidString(c.Password) || utf8.RuneCountInString(c.Password) > max ||
		len(login) > 4*identity.MaxLoginLength || len(email) > identity.MaxEmailLength {
		// Too long to be a valid credential; spend the usual work and fail.
		_, _, err := p.Verify(ctx, "x", p.dummy)
		if err != nil {
			return nil, err
		}
		return nil, identity.ErrInvalidCredentials
	}
	var u *identity.User
	var err error
	if login != "" {
		u, err = req.Users.UserByLogin(ctx, login)
	} else {
		u, err = req.Users.UserByEmail(ctx, email)
	}
	switch {
	case err == nil && u.PasswordHash != "" && !u.IsGuest:
		ok, rehash, err := p.Verify(ctx, c.Password, u.PasswordHash)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, identity.ErrInvalidCredentials
		}
		cl := &identity.Claims{UserID: u.ID, User: u}
		if rehash {
			if h, err := p.Hash(ctx, c.Password); err == nil {
				cl.Rehash = h
			}
		}
		return cl, nil
	case err == nil:
		// a guest or a passwordless (external) account
		if _, _, err := p.Verify(ctx, c.Password, p.dummy); err != nil {
			return nil, err
		}
		return nil, identity.ErrInvalidCredentials
	case !errors.Is(err, identity.ErrUserNotFound):
		return nil, err
	}
	if req.Application.Settings.DenyAutoCreate {
		if _, _, err := p.Verify(ctx, c.Password, p.dummy); err != nil {
			return nil, err
		}
		return nil, identity.ErrInvalidCredentials
	}
	// Auto sign-up: the new user's password must satisfy the policy.
	in := identity.UserInput{}
	if login != "" {
		in.Login = &login
	}
	if email != "" {
		in.Email = &email
	}
	if n := utf8.RuneCountInString(c.Password); n < policyMin(policy) {
		if _, _, err := p.Verify(ctx, c.Password, p.dummy); err != nil {
			return nil, err
		}
		return nil, identity.ErrInvalidCredentials
	}
	h, err := p.Hash(ctx, c.Password)
	if err != nil {
		return nil, err
	}
	return &identity.Claims{NewUser: true, Profile: in, PasswordHash: h}, nil
}

func policyMin(p identity.PasswordPolicy) int {
	if p.MinLength <= 0 {
		return 8
	}
	return p.MinLength
}

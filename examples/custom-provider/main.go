// Command custom-provider shows how to add an identity provider that is not in the box. It
// implements identity.Provider for sign-in by magic link (see MagicLink), passes it to
// identity.New in Config.Providers next to the password provider, and serves the
// ConnectyCube API through httpadapter, where clients reach the provider by its name:
//
//	go run ./examples/custom-provider
//
//	# 1. ask for a link (the example "mails" it by printing it on stdout)
//	curl -d auth_key=<auth key> -d email=ann@example.com localhost:8080/magic-link
//
//	# 2. the page the link opens creates a session with the token it carries
//	curl -H 'Content-Type: application/json' localhost:8080/session -d '{
//	  "application_id": <id>, "auth_key": "<auth key>",
//	  "provider": "magic_link", "keys": {"token": "<token from the link>"}}'
//
// With the ConnectyCube JavaScript SDK step 2 is
// ConnectyCube.createSession({provider: "magic_link", keys: {token}}).
//
// Writing a provider comes down to three rules of the identity.Provider contract: return
// Claims that say who the user is (UserID for an existing user found with req.Users, or
// Subject plus Profile for an external identity that Identity links to a user it creates on
// first sight); return errors wrapping identity.ErrInvalidCredentials for credentials that
// prove nothing and an *identity.Error wrapping identity.ErrInvalidInput for missing
// parameters; never put the credentials in an error message or a log line.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/store/gormstore"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "listen address")
	db := flag.String("db", "custom-provider.db", "SQLite database file")
	linkBase := flag.String("link", "http://localhost:3000/magic", "URL of the page that completes a magic-link login")
	keyHex := flag.String("key", os.Getenv("MAGIC_LINK_KEY"), "hex HMAC key for magic links, 32 bytes or more (default: $MAGIC_LINK_KEY, else random per start)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	key, err := hex.DecodeString(*keyHex)
	if err != nil || *keyHex == "" {
		key = make([]byte, 32)
		rand.Read(key)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *db, *linkBase, key, log, os.Stdout); err != nil {
		log.Error("custom-provider: stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, dbPath, linkBase string, key []byte, log *slog.Logger, out io.Writer) error {
	st, err := gormstore.OpenSQLite(dbPath, gormstore.Config{Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	// The "mailer" prints the link: a stand-in for sending an email, not a log line.
	send := func(email, link string) error {
		_, err := fmt.Fprintf(out, "To: %s\nSign in: %s\n\n", email, link)
		return err
	}
	h, id, err := newServer(st, key, linkBase, send, log)
	if err != nil {
		return err
	}
	apps, err := st.Applications(ctx)
	if err != nil {
		return err
	}
	var app *identity.Application
	if len(apps) > 0 {
		app = apps[0]
	} else if app, err = id.CreateApplication(ctx, "custom-provider", identity.AppSettings{}); err != nil {
		return err
	}
	fmt.Fprintf(out, "application id: %d\nauth key:       %s\n\n", app.ID, app.AuthKey)

	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Info("custom-provider: listening", "addr", ln.Addr().String())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newServer builds the Identity with the magic-link provider and returns the handler: the
// ConnectyCube API, plus POST /magic-link (form fields auth_key and email) which mails a link
// through send. The answer is 202 whether or not the address has an account.
func newServer(st identity.Store, key []byte, linkBase string, send func(email, link string) error, log *slog.Logger) (http.Handler, *identity.Identity, error) {
	ml, err := NewMagicLink(key, 15*time.Minute)
	if err != nil {
		return nil, nil, err
	}
	pw, err := password.New(password.Config{})
	if err != nil {
		return nil, nil, err
	}
	id, err := identity.New(identity.Config{
		Store:     st,
		Hasher:    pw,
		Providers: []identity.Provider{pw, ml},
		Logger:    log,
	})
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", httpadapter.New(id, httpadapter.Config{Logger: log}))
	mux.HandleFunc("POST /magic-link", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		app, err := id.ApplicationByAuthKey(r.Context(), r.PostFormValue("auth_key"))
		if err != nil {
			http.Error(w, "unknown application", http.StatusUnauthorized)
			return
		}
		token, err := ml.Issue(app.ID, r.PostFormValue("email"), time.Now())
		if err != nil {
			http.Error(w, "invalid email", http.StatusUnprocessableEntity)
			return
		}
		if err := send(identity.NormalizeEmail(r.PostFormValue("email")), linkBase+"?token="+url.QueryEscape(token)); err != nil {
			log.Error("custom-provider: sending the magic link failed", "err", err)
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	return mux, id, nil
}

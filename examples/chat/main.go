// Command chat is a tiny chat gateway that logs users in the way ConnectyCube chat does for
// users without a password (Custom Identity Provider, OIDC, Firebase, guests): with their
// user id and their current session token as the password ("Connect to Chat with CIdP").
// The gateway checks the pair with identity.Identity.AuthenticateUserToken.
//
//	go run ./examples/chat
//
// serves the ConnectyCube REST API on localhost:8080 (create a session there, with any
// provider) and the chat on localhost:5222, a line protocol to try with nc:
//
//	AUTH <user id> <session token>   → OK <user id> | ERR not authorized
//	MSG <text>                       → broadcast to the others as MSG <user id> <text>
//	QUIT
//
// Every MSG checks the session again, so a session that expires, is destroyed (DELETE
// /session) or whose user is deleted ends the chat connection with "ERR session expired".
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/provider/guest"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/store/gormstore"
)

func main() {
	apiAddr := flag.String("api", "localhost:8080", "REST API listen address")
	chatAddr := flag.String("chat", "localhost:5222", "chat listen address")
	db := flag.String("db", "chat.db", "SQLite database file")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *apiAddr, *chatAddr, *db, log); err != nil {
		log.Error("chat: stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, apiAddr, chatAddr, dbPath string, log *slog.Logger) error {
	st, err := gormstore.OpenSQLite(dbPath, gormstore.Config{Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	pw, err := password.New(password.Config{})
	if err != nil {
		return err
	}
	gp, err := guest.New(guest.Config{})
	if err != nil {
		return err
	}
	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw, gp}, Logger: log})
	if err != nil {
		return err
	}
	apps, err := st.Applications(ctx)
	if err != nil {
		return err
	}
	if len(apps) == 0 {
		app, err := id.CreateApplication(ctx, "chat", identity.AppSettings{})
		if err != nil {
			return err
		}
		apps = append(apps, app)
	}
	fmt.Printf("application id: %d\nauth key:       %s\n", apps[0].ID, apps[0].AuthKey)

	api := &http.Server{Addr: apiAddr, Handler: httpadapter.New(id, httpadapter.Config{Logger: log}), ReadHeaderTimeout: 10 * time.Second}
	go api.ListenAndServe()
	defer api.Close()

	ln, err := net.Listen("tcp", chatAddr)
	if err != nil {
		return err
	}
	g := NewGateway(id, log)
	go func() {
		<-ctx.Done()
		g.Close()
	}()
	log.Info("chat: listening", "api", apiAddr, "chat", ln.Addr().String())
	if err := g.Serve(ln); !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// Gateway is the chat server. It is safe for concurrent use.
type Gateway struct {
	id  *identity.Identity
	log *slog.Logger

	mu      sync.Mutex
	ln      net.Listener
	clients map[*client]bool
	closed  bool
}

type client struct {
	conn   net.Conn
	userID int64
	token  string
	wmu    sync.Mutex
}

func (c *client) send(line string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c.conn, "%s\n", line)
}

// Limits of the line protocol.
const (
	maxLine     = 4 << 10
	authTimeout = 10 * time.Second
	idleTimeout = 10 * time.Minute
)

// NewGateway returns a gateway that authenticates users against id.
func NewGateway(id *identity.Identity, log *slog.Logger) *Gateway {
	return &Gateway{id: id, log: log, clients: map[*client]bool{}}
}

// Serve accepts connections on ln until Close.
func (g *Gateway) Serve(ln net.Listener) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	g.ln = ln
	g.mu.Unlock()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		go g.handle(conn)
	}
}

// Close stops accepting and disconnects everyone.
func (g *Gateway) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	if g.ln != nil {
		g.ln.Close()
	}
	for c := range g.clients {
		c.conn.Close()
	}
}

func (g *Gateway) handle(conn net.Conn) {
	defer conn.Close()
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 256), maxLine)
	c := &client{conn: conn}

	// The first line must be AUTH <user id> <session token>.
	conn.SetReadDeadline(time.Now().Add(authTimeout))
	if !sc.Scan() {
		return
	}
	u, token, err := g.auth(sc.Text())
	if err != nil {
		// The line holds the token: it is never logged.
		g.log.Info("chat: login refused", "remote", conn.RemoteAddr().String(), "err", err)
		c.send("ERR not authorized")
		return
	}
	c.userID, c.token = u.ID, token
	if !g.join(c) {
		return
	}
	defer g.leave(c)
	c.send("OK " + strconv.FormatInt(u.ID, 10))

	for {
		conn.SetReadDeadline(time.Now().Add(idleTimeout))
		if !sc.Scan() {
			return
		}
		cmd, rest, _ := strings.Cut(sc.Text(), " ")
		switch cmd {
		case "MSG":
			// A session can end while connected: check it again.
			if _, err := g.id.AuthenticateUserToken(context.Background(), c.userID, c.token); err != nil {
				c.send("ERR session expired")
				return
			}
			g.broadcast(c, "MSG "+strconv.FormatInt(c.userID, 10)+" "+rest)
		case "QUIT":
			return
		default:
			c.send("ERR unknown command")
		}
	}
}

// auth parses "AUTH <user id> <token>" and checks the pair.
func (g *Gateway) auth(line string) (*identity.User, string, error) {
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "AUTH" {
		return nil, "", errors.New("chat: expected AUTH <user id> <session token>")
	}
	userID, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || userID <= 0 {
		return nil, "", errors.New("chat: malformed user id")
	}
	u, err := g.id.AuthenticateUserToken(context.Background(), userID, f[2])
	if err != nil {
		return nil, "", err
	}
	return u, f[2], nil
}

func (g *Gateway) join(c *client) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.clients[c] = true
	return true
}

func (g *Gateway) leave(c *client) {
	g.mu.Lock()
	delete(g.clients, c)
	g.mu.Unlock()
}

func (g *Gateway) broadcast(from *client, line string) {
	g.mu.Lock()
	to := make([]*client, 0, len(g.clients))
	for c := range g.clients {
		if c != from {
			to = append(to, c)
		}
	}
	g.mu.Unlock()
	for _, c := range to {
		c.send(line)
	}
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

// canned is a recorded response: the bare server answers every request with it.
type canned struct {
	Status int         `json:"status"`
	Header http.Header `json:"header"`
	Body   []byte      `json:"body"`
}

// cmdBare is the baseline server, run as its own process by the harness: plain net/http
// with examples/server's timeouts, answering every request with the recorded response
// (same status, headers and bytes; Date is net/http's own, as on the real server).
func cmdBare(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	file := fs.String("response", "", "JSON file of the response to send")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	pprofOn := fs.Bool("pprof", false, "serve net/http/pprof on another loopback port (printed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pprofAddr := ""
	if *pprofOn {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/heap", pprof.Index)
		pl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		pprofAddr = pl.Addr().String()
		go http.Serve(pl, mux)
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	var c canned
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		for k, v := range c.Header {
			hd[k] = v
		}
		w.WriteHeader(c.Status)
		w.Write(c.Body)
	})
	// The timeouts of examples/server's http.Server.
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(os.Stderr, "bare: ", 0),
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Printf("bare listening %s %s\n", ln.Addr(), pprofAddr)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// bareProc is a running baseline server.
type bareProc struct {
	cmd       *exec.Cmd
	addr      string
	pprofAddr string
}

var bareRE = regexp.MustCompile(`^bare listening (\S+) ?(\S*)`)

// startBare records c to the work directory and runs this program's bare command on it.
func (b *bench) startBare(c canned, pprofOn bool) (*bareProc, error) {
	file := filepath.Join(b.dir, "bare-response.json")
	data, _ := json.Marshal(c)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p := &bareProc{cmd: exec.Command(self, "bare", "-response", file, "-pprof="+strconv.FormatBool(pprofOn))}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.cmd.Stderr = b.log
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	if sc.Scan() {
		if m := bareRE.FindStringSubmatch(sc.Text()); m != nil {
			p.addr, p.pprofAddr = m[1], m[2]
			return p, nil
		}
	}
	p.stop()
	return nil, fmt.Errorf("bare server did not start")
}

func (p *bareProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

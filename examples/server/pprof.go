package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// checkPprofAddr accepts "" (profiling off) or a host:port whose host is a loopback address
// or "localhost": the profiles reveal memory contents and must never be reachable from
// another machine.
func checkPprofAddr(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-pprof-addr %q: want host:port", addr)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-pprof-addr %q: the host must be a loopback address (127.0.0.1, ::1 or localhost)", addr)
	}
	return nil
}

// startPprof serves net/http/pprof's handlers under /debug/pprof/ on addr (checked by
// checkPprofAddr), on its own listener and mux, until stop is called, and returns the
// address it listens on. addr "" starts nothing.
func startPprof(addr string, log *slog.Logger) (bound string, stop func(), err error) {
	if addr == "" {
		return "", func() {}, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	bound, stop, err = serveSide("-pprof-addr", addr, mux)
	if err == nil {
		log.Warn("server: profiling endpoints on", "addr", bound)
	}
	return bound, stop, err
}

// serveSide serves h on addr (the value of flag), on a listener of its own, until stop is
// called, and returns the address it listens on. It has no WriteTimeout: a CPU profile or
// trace streams for as long as its ?seconds=.
func serveSide(flag, addr string, h http.Handler) (bound string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("server: %s: %w", flag, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

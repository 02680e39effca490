// Command loadtest is the load and fault harness of identity (see README.md in this
// directory). It builds examples/server, runs it as a separate process on SQLite or
// PostgreSQL, drives it over loopback with an in-process load generator and prints Markdown
// tables.
//
//	go run ./bench/loadtest                          # throughput, latency and memory table (SQLite)
//	go run ./bench/loadtest -db postgres             # the same on PostgreSQL
//	go run ./bench/loadtest kill                     # kill -9 under sign-up load (SQLite); what was lost
//	go run ./bench/loadtest pgrestart                # PostgreSQL restarted under load
//	go run ./bench/loadtest timing                   # unknown login vs wrong password timing
//
// Run with -h after a subcommand for its flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd {
	case "run":
		err = cmdRun(ctx, args)
	case "kill":
		err = cmdKill(ctx, args)
	case "pgrestart":
		err = cmdPGRestart(ctx, args)
	case "timing":
		err = cmdTiming(ctx, args)
	case "bare":
		err = cmdBare(ctx, args)
	default:
		fmt.Fprintf(os.Stderr, "loadtest: unknown command %q; want run, kill, pgrestart or timing\n", cmd)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

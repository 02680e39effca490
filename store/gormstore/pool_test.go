package gormstore

import (
	"context"
	"database/sql"
	"os"
	"runtime"
	"sync"
	"testing"
)

// TestPostgresPoolKeepsConnections: OpenPostgres keeps the connections of a burst of
// concurrent queries idle for the next burst instead of closing all but two of them
// (database/sql's default), which would start a PostgreSQL backend per reconnection.
func TestPostgresPoolKeepsConnections(t *testing.T) {
	dsn := os.Getenv(pgEnv)
	if dsn == "" {
		t.Skipf("%s not set", pgEnv)
	}
	st, err := OpenPostgres(dsn, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sqlDB, err := st.db.DB()
	if err != nil {
		t.Fatal(err)
	}
	const concurrent = 8
	burst := func() {
		// Every goroutine holds its connection until all hold one: the burst needs
		// `concurrent` connections at once.
		var hold, done sync.WaitGroup
		hold.Add(concurrent)
		done.Add(concurrent)
		release := make(chan struct{})
		for i := 0; i < concurrent; i++ {
			go func() {
				defer done.Done()
				conn, err := sqlDB.Conn(context.Background())
				if err != nil {
					t.Error(err)
					hold.Done()
					return
				}
				defer conn.Close()
				if err := conn.PingContext(context.Background()); err != nil {
					t.Error(err)
				}
				hold.Done()
				<-release
			}()
		}
		hold.Wait()
		close(release)
		done.Wait()
	}
	for i := 0; i < 3; i++ {
		burst()
	}
	s := sqlDB.Stats()
	if s.MaxIdleClosed != 0 || s.OpenConnections != concurrent {
		t.Fatalf("after 3 bursts of %d: %d connections closed for the idle limit, %d open; want 0 and %d",
			concurrent, s.MaxIdleClosed, s.OpenConnections, concurrent)
	}
}

// TestPostgresPoolIsBounded: OpenPostgres opens at most pgMaxOpenConns connections; one
// more concurrent query waits for a connection to come back instead of opening another
// (and a burst of requests cannot exhaust PostgreSQL's max_connections).
func TestPostgresPoolIsBounded(t *testing.T) {
	dsn := os.Getenv(pgEnv)
	if dsn == "" {
		t.Skipf("%s not set", pgEnv)
	}
	st, err := OpenPostgres(dsn, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sqlDB, err := st.db.DB()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var held []*sql.Conn
	for i := 0; i < pgMaxOpenConns; i++ {
		c, err := sqlDB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	got := make(chan error, 1)
	go func() {
		c, err := sqlDB.Conn(ctx)
		if err == nil {
			err = c.PingContext(ctx)
			c.Close()
		}
		got <- err
	}()
	for sqlDB.Stats().WaitCount == 0 {
		runtime.Gosched() // until the extra query waits for a connection
	}
	if n := sqlDB.Stats().OpenConnections; n != pgMaxOpenConns {
		t.Fatalf("%d connections open, want %d", n, pgMaxOpenConns)
	}
	held[0].Close()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	for _, c := range held[1:] {
		c.Close()
	}
	if s := sqlDB.Stats(); s.MaxOpenConnections != pgMaxOpenConns || s.OpenConnections > pgMaxOpenConns {
		t.Fatalf("stats %+v", s)
	}
}

package gormstore

import (
	"time"

	"gorm.io/gorm"
)

// PostgreSQL connection pool settings of OpenPostgres. database/sql keeps only 2 idle
// connections by default: a server answering a few concurrent requests then closes a
// connection after nearly every query burst and opens a new one for the next, and every
// new PostgreSQL connection is a new server process (measured with bench/loadtest: about one
// new connection per two logins at 8 concurrent logins, each costing the database a
// backend start).
//
// database/sql also opens as many connections as there are concurrent queries: a burst of
// 1 000 logins opened hundreds, beyond PostgreSQL's max_connections (100 by default), which
// then refused every client of the database ("too many clients already"). A bounded pool
// makes a burst wait for a connection instead.
const (
	// pgMaxOpenConns bounds the connections of one Store.
	pgMaxOpenConns = 32
	// pgMaxIdleConns is how many idle connections the pool keeps.
	pgMaxIdleConns = 16
	// pgConnMaxIdleTime closes connections idle this long, so a burst's connections do not
	// stay open forever.
	pgConnMaxIdleTime = 5 * time.Minute
)

// tunePostgresPool applies the pool settings above to db's pool.
func tunePostgresPool(db *gorm.DB) {
	sqlDB, err := db.DB()
	if err != nil {
		return
	}
	sqlDB.SetMaxOpenConns(pgMaxOpenConns)
	sqlDB.SetMaxIdleConns(pgMaxIdleConns)
	sqlDB.SetConnMaxIdleTime(pgConnMaxIdleTime)
}

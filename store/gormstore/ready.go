package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"gorm.io/gorm/schema"

	"github.com/identitykit/identity"
)

// Ready implements identity.ReadinessChecker. It pings the database within ctx's deadline,
// then checks in one statement that every table and column Migrate creates exists (a
// statement that names them and reads no row) and reads the latest migration applied. It
// returns nil when all succeed and no migration is pending, else an error wrapping
// identity.ErrUnavailable: for an unreachable or closed database, the driver's error
// (PostgreSQL's names the server, user and database, never the password); for a schema that
// Migrate has not brought up to date, the first table or column missing, or the migrations
// pending. Indexes are not checked. Ready changes nothing and is safe for concurrent use.
func (s *Store) Ready(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return notReady("database unavailable", err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return notReady("database unavailable", err)
	}
	probe, err := s.schemaProbe()
	if err != nil {
		return notReady("reading the schema", err)
	}
	var versions []sql.NullInt64 // one: MAX(version), NULL when none is applied
	err = s.db.WithContext(ctx).Raw(probe.all).Scan(&versions).Error
	if err == nil {
		var version int64
		if len(versions) > 0 {
			version = versions[0].Int64
		}
		if latest := LatestSchemaVersion(); version < int64(latest) {
			return notReady(fmt.Sprintf("schema at version %d, migrations up to %d pending (run Migrate)", version, latest), nil)
		}
		return nil
	}
	if unavailable(err) {
		return notReady("database unavailable", err)
	}
	// Find what is missing, one table and one column at a time.
	for _, t := range probe.tables {
		if err := s.db.WithContext(ctx).Exec("SELECT 1 FROM " + t.name + " WHERE 1 = 0").Error; err != nil {
			if unavailable(err) {
				return notReady("database unavailable", err)
			}
			return notReady("table "+t.name+" is missing (run Migrate)", nil)
		}
		for _, c := range t.columns {
			if err := s.db.WithContext(ctx).Exec("SELECT " + c + " FROM " + t.name + " WHERE 1 = 0").Error; err != nil {
				if unavailable(err) {
					return notReady("database unavailable", err)
				}
				return notReady("table "+t.name+" has no column "+strings.Trim(c, "`\"")+" (run Migrate)", nil)
			}
		}
	}
	if err := s.db.WithContext(ctx).Exec("SELECT version FROM " + s.t.versions() + " WHERE 1 = 0").Error; err != nil {
		if unavailable(err) {
			return notReady("database unavailable", err)
		}
		return notReady("table "+s.t.versions()+" is missing: migrations pending (run Migrate)", nil)
	}
	return notReady("checking the schema", err)
}

// notReady is Ready's error: what is wrong, wrapping identity.ErrUnavailable and err (when not
// nil).
func notReady(what string, err error) error {
	switch {
	case err == nil:
		return fmt.Errorf("gormstore: not ready: %s: %w", what, identity.ErrUnavailable)
	case errors.Is(err, identity.ErrUnavailable):
		return fmt.Errorf("gormstore: not ready: %s: %w", what, err)
	default:
		return fmt.Errorf("gormstore: not ready: %s: %w: %w", what, identity.ErrUnavailable, err)
	}
}

// readyProbe is the SQL of Ready's schema check: all reads the latest version of the version
// table, then names every table Migrate creates with every column (quoted) of it, one SELECT
// per table joined by UNION ALL, each reading no row; so its only row is the version.
type readyProbe struct {
	all    string
	tables []probeTable
}

type probeTable struct {
	name    string
	columns []string // quoted
}

// schemaProbe builds the probe from the row types Migrate creates the tables from, once.
func (s *Store) schemaProbe() (*readyProbe, error) {
	s.probeOnce.Do(func() {
		p := &readyProbe{}
		selects := []string{"SELECT MAX(version) FROM " + s.t.versions()}
		for _, m := range s.models() {
			sch, err := schema.Parse(m.model, &sync.Map{}, s.db.NamingStrategy)
			if err != nil {
				s.probeErr = err
				return
			}
			t := probeTable{name: m.table}
			var conds []string
			for _, c := range sch.DBNames {
				var b strings.Builder
				s.db.Dialector.QuoteTo(&b, c) // SQLite reads an unknown "name" as a string
				q := b.String()
				t.columns = append(t.columns, q)
				conds = append(conds, q+" IS NULL")
			}
			p.tables = append(p.tables, t)
			selects = append(selects, "SELECT 1 FROM "+m.table+" WHERE 1 = 0 AND "+strings.Join(conds, " AND "))
		}
		p.all = strings.Join(selects, " UNION ALL ")
		s.probe = p
	})
	return s.probe, s.probeErr
}

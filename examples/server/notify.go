package main

import (
	"log/slog"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/notify/redisnotify"
	"github.com/identitykit/identity/store/gormstore"
)

// newNotifier returns the channel that carries cache invalidations between the instances
// sharing the database (identity.Config.Notifier): Redis pub/sub with -redis-url,
// PostgreSQL LISTEN/NOTIFY on PostgreSQL, none on SQLite (one process). close releases
// what it opened.
func newNotifier(cfg *config, st *gormstore.Store, log *slog.Logger) (n identity.Notifier, close func(), err error) {
	close = func() {}
	switch {
	case cfg.RedisURL != "":
		rdb, err := newRedis(cfg)
		if err != nil {
			return nil, close, err
		}
		if n, err = redisnotify.New(rdb, redisnotify.Config{Channel: "identity:invalidations:" + cfg.TablePrefix}); err != nil {
			rdb.Close()
			return nil, close, err
		}
		log.Info("server: revocations and changes reach the other instances through Redis pub/sub")
		return n, func() { rdb.Close() }, nil
	case cfg.isPostgres():
		if n, err = st.Notifier(); err != nil {
			return nil, close, err
		}
		log.Info("server: revocations and changes reach the other instances through PostgreSQL LISTEN/NOTIFY")
		return n, close, nil
	}
	return nil, close, nil
}

package identity

import "sync/atomic"

// Stats are counters of an Identity's in-memory session cache, for metrics (package metrics
// exports them). The counters only grow, from New on.
type Stats struct {
	// SessionCacheHits counts validations (Validate, and so every authenticated request)
	// answered from memory; SessionCacheMisses those that read the session from the Store:
	// a token not cached, or cached longer than Config.RecheckInterval.
	SessionCacheHits, SessionCacheMisses uint64
	// CachedSessions is the number of sessions in the cache now (at most
	// Config.MaxCachedSessions).
	CachedSessions int
	// NotifierUp reports whether the Config.Notifier channel works now: it listens and the
	// last publish succeeded. Always false without a Notifier.
	NotifierUp bool
}

// Stats returns the Identity's counters. It is cheap and safe to call concurrently.
func (id *Identity) Stats() Stats {
	id.cache.mu.Lock()
	n := len(id.cache.byHash)
	id.cache.mu.Unlock()
	id.notify.mu.Lock()
	up := id.cfg.Notifier != nil && id.notify.listening && !id.notify.pubFailed
	id.notify.mu.Unlock()
	return Stats{SessionCacheHits: id.stats.hits.Load(), SessionCacheMisses: id.stats.misses.Load(), CachedSessions: n, NotifierUp: up}
}

// cacheStats are the counters behind Stats.
type cacheStats struct {
	hits, misses atomic.Uint64
}

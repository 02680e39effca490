package ratelimit

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"time"
)

// MemoryConfig configures NewMemory. The zero value means every default.
type MemoryConfig struct {
	// MaxKeys bounds the number of buckets held. When a new key would exceed it, the least
	// recently used bucket is forgotten (as if it had drained), so a flood of distinct keys
	// costs bounded memory: about 200 bytes per bucket. Default 100 000.
	MaxKeys int
}

const defaultMaxKeys = 100000

// memShards is the number of independently locked parts of a Memory.
const memShards = 32

// Memory is a Limiter in process memory: counts are per process. It holds at most
// MemoryConfig.MaxKeys buckets in 32 independently locked shards, each a map with a
// least-recently-used list; drained buckets are removed when they are touched and swept
// from the cold end of the list as new keys arrive. It starts no goroutine and needs no
// Close. The zero value is not usable; call NewMemory.
type Memory struct {
	seed   maphash.Seed
	shards []memShard
}

var _ Limiter = (*Memory)(nil)

type memShard struct {
	mu  sync.Mutex
	m   map[string]*memEntry
	max int
	// lru is a sentinel of a circular list: lru.next is the most recently used entry,
	// lru.prev the least.
	lru memEntry
}

type memEntry struct {
	key        string
	tat        int64
	prev, next *memEntry
}

// NewMemory returns an in-memory Limiter. A negative MaxKeys is an error.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	if cfg.MaxKeys < 0 {
		return nil, errors.New("ratelimit: MemoryConfig.MaxKeys must not be negative")
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = defaultMaxKeys
	}
	n := min(memShards, cfg.MaxKeys)
	m := &Memory{seed: maphash.MakeSeed(), shards: make([]memShard, n)}
	for i := range m.shards {
		s := &m.shards[i]
		s.m = map[string]*memEntry{}
		s.max = cfg.MaxKeys / n
		s.lru.next, s.lru.prev = &s.lru, &s.lru
	}
	return m, nil
}

func (m *Memory) shard(key string) *memShard {
	return &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]
}

// Take implements Limiter. It fails only for an invalid Rate.
func (m *Memory) Take(_ context.Context, key string, r Rate, cost int, now time.Time) (Result, error) {
	if !r.Valid() {
		return Result{}, errInvalidRate
	}
	ns := now.UnixNano()
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[key]
	var tat int64
	if e != nil {
		tat = e.tat
	}
	next, res := take(tat, ns, r, cost)
	switch {
	case next <= ns && e != nil:
		s.remove(e)
	case next <= ns:
	case e != nil:
		e.tat = next
		s.moveToFront(e)
	default:
		s.insert(key, next, ns)
	}
	return res, nil
}

var errInvalidRate = errors.New("ratelimit: invalid Rate (Burst and Interval must be positive)")

// Reset implements Limiter.
func (m *Memory) Reset(_ context.Context, key string) error {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[key]; e != nil {
		s.remove(e)
	}
	return nil
}

// Len returns the number of buckets held (drained ones not yet swept included).
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// insert adds a bucket for key, first sweeping up to two drained buckets from the cold end
// of the list and, when the shard is still full, forgetting the least recently used one.
func (s *memShard) insert(key string, tat, now int64) {
	for i := 0; i < 2; i++ {
		if old := s.lru.prev; old != &s.lru && old.tat <= now {
			s.remove(old)
		}
	}
	for len(s.m) >= s.max && s.lru.prev != &s.lru {
		s.remove(s.lru.prev)
	}
	e := &memEntry{key: key, tat: tat}
	s.m[key] = e
	e.prev, e.next = &s.lru, s.lru.next
	e.next.prev = e
	s.lru.next = e
}

func (s *memShard) remove(e *memEntry) {
	delete(s.m, e.key)
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

func (s *memShard) moveToFront(e *memEntry) {
	if s.lru.next == e {
		return
	}
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = &s.lru, s.lru.next
	e.next.prev = e
	s.lru.next = e
}

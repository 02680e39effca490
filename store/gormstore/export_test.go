package gormstore

// NotifyChannel exposes the notification channel to the external tests, which kill the
// connections listening on it.
func NotifyChannel(s *Store) string { return s.notifyChannel() }

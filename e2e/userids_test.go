package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/identitykit/identity/store/gormstore"
)

// tablePrefixes maps each store openStore opened to its table prefix.
var tablePrefixes sync.Map // *gormstore.Store → string

// withUserIDs adds to the control API:
//
//	POST /users/next-id?id=N  makes N the id of the next user created (tests/users-retrieval
//	                          uses the ids of the seed's snippets, 51941 and 51946); 409
//	                          when a user with an id >= N exists already
//
// by moving the users table's id sequence (sqlite_sequence on SQLite, setval on PostgreSQL).
func withUserIDs(control http.Handler, st *gormstore.Store) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", control)
	var mu sync.Mutex
	mux.HandleFunc("POST /users/next-id", func(w http.ResponseWriter, r *http.Request) {
		next, err := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
		if err != nil || next < 2 {
			http.Error(w, "id: want an integer > 1", http.StatusBadRequest)
			return
		}
		prefix, ok := tablePrefixes.Load(st)
		if !ok {
			http.Error(w, "unknown store", http.StatusInternalServerError)
			return
		}
		users := prefix.(string) + "users"
		mu.Lock()
		defer mu.Unlock()
		db := st.DB().WithContext(r.Context())
		var maxID int64
		if err := db.Raw("SELECT coalesce(max(id), 0) FROM " + users).Scan(&maxID).Error; err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if maxID >= next {
			http.Error(w, fmt.Sprintf("user ids up to %d are taken", maxID), http.StatusConflict)
			return
		}
		switch db.Dialector.Name() {
		case "sqlite":
			res := db.Exec("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", next-1, users)
			if res.Error == nil && res.RowsAffected == 0 {
				res = db.Exec("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", users, next-1)
			}
			err = res.Error
		default:
			err = db.Exec("SELECT setval(pg_get_serial_sequence(?, 'id'), ?)", users, next-1).Error
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int64{"next_id": next})
	})
	return mux
}

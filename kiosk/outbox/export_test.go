package outbox

import "database/sql"

// DBOf exposes the outbox's connection to the external tests, which use it to
// inspect pragmas and to cap the database's size (PRAGMA max_page_count is per
// connection, and the outbox holds exactly one).
func DBOf(o *Outbox) *sql.DB { return o.st.db }

// SetJitter replaces the backoff jitter source (randN(n) in [0, n)).
func SetJitter(o *Outbox, randN func(int64) int64) { o.randN = randN }

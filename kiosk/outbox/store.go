package outbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-sqlite3"
)

// Row states.
const (
	statePending = 0
	stateDead    = 1
)

// migrations[i] takes the schema from user_version i to i+1. Append only: a
// kiosk in the field upgrades from whatever version it was left at.
var migrations = []string{
	`CREATE TABLE outbox (
		id         INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: the id is in every blob's AAD
		idem_key   TEXT    NOT NULL UNIQUE,
		created_at INTEGER NOT NULL,                  -- Unix ns
		state      INTEGER NOT NULL DEFAULT 0,        -- 0 pending, 1 dead letter
		attempts   INTEGER NOT NULL DEFAULT 0,
		next_at    INTEGER NOT NULL DEFAULT 0,        -- Unix ns; not before this
		last_error TEXT    NOT NULL DEFAULT '',       -- a ForwardError reason, no personal data
		dead_at    INTEGER NOT NULL DEFAULT 0,
		filing     BLOB    NOT NULL                   -- sealed (seal.go)
	);
	CREATE INDEX outbox_state ON outbox(state, id);
	CREATE TABLE attachment (
		outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
		seq       INTEGER NOT NULL,
		data      BLOB    NOT NULL,                   -- sealed
		PRIMARY KEY (outbox_id, seq)
	) WITHOUT ROWID;
	CREATE TABLE meta (k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;`,
}

// keyCheck is sealed under row id 0 at creation; opening it at Start tells a wrong
// key from corrupt rows, so a kiosk given the wrong key fails loudly instead of
// dead-lettering its whole queue.
var keyCheck = []byte("vnkiosk outbox key check")

// store is the SQLite side of the outbox. Everything goes through one
// connection, db: SQLite serialises writers anyway, one connection makes
// per-connection pragmas certain, and the TRUNCATE checkpoint after a purge never
// waits on a reader of our own. A second connection, ckpt, only runs PASSIVE
// checkpoints after each Enqueue, beside db's commits, so Enqueue's commit does
// not itself copy the WAL into the database (a multi-megabyte write and fsync
// that was most of Enqueue's p99). db keeps an automatic checkpoint at a higher
// mark as a backstop: when commits follow each other so closely that the side
// checkpoint never finishes between two of them, the WAL cannot restart from its
// beginning and would grow without it; by then the side checkpoint has copied
// most frames, so the backstop is cheap.
type store struct {
	db   *sql.DB
	ckpt *sql.DB
	seal *sealer
}

// walBackstopPages is db's automatic checkpoint mark: 8 MiB of 4 KiB pages,
// twice SQLite's default.
const walBackstopPages = 2000

// dsn builds the connection string. Every pragma here is applied by the driver
// on connect: WAL so readers never block the writer and a commit is one append;
// synchronous=FULL so a commit survives power loss; secure_delete so freed pages
// are zeroed; incremental auto_vacuum so purged pages can be returned to the
// filesystem; txlock=immediate so a write transaction takes the write lock at
// BEGIN and never fails to upgrade half-way; an 8 MiB page cache so a filing of
// a few scanned pages is written to the WAL once at commit instead of being
// spilled mid-transaction (the 2 MiB default made Enqueue ~1.7x slower).
func dsn(path string, busy time.Duration) string {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_foreign_keys", "1")
	q.Set("_busy_timeout", fmt.Sprint(busy.Milliseconds()))
	q.Set("_secure_delete", "on")
	q.Set("_auto_vacuum", "incremental")
	q.Set("_txlock", "immediate")
	q.Set("_cache_size", "-8000")
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	return u.String()
}

func openStore(ctx context.Context, path string, busy time.Duration, s *sealer) (*store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("outbox state directory: %w", err)
	}
	// Create the file 0600 before SQLite does (it would honour the umask); the
	// -wal and -shm files inherit the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("outbox database: %w", err)
	}
	f.Close()
	st := &store{db: openPool(dsn(path, busy)), ckpt: openPool(dsn(path, busy)), seal: s}
	if err := st.migrate(ctx); err != nil {
		st.db.Close()
		st.ckpt.Close()
		return nil, err
	}
	if err := st.checkKey(ctx); err != nil {
		st.db.Close()
		st.ckpt.Close()
		return nil, err
	}
	return st, nil
}

// openPool returns a pool of exactly one connection that lives as long as the
// pool, with the automatic checkpoint moved to the backstop mark (see store).
func openPool(dsn string) *sql.DB {
	drv := &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		if _, err := c.Exec(fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", walBackstopPages), nil); err != nil {
			return fmt.Errorf("set automatic checkpoint: %w", err)
		}
		return nil
	}}
	db := sql.OpenDB(connector{dsn: dsn, drv: drv})
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db
}

// connector opens connections through a driver with a ConnectHook, without
// registering a driver name process-wide.
type connector struct {
	dsn string
	drv *sqlite3.SQLiteDriver
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.drv }

func (s *store) migrate(ctx context.Context) error {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("outbox database: read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("outbox database schema is version %d, this kioskd knows up to %d: refusing to touch a newer database", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("outbox migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("outbox migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("outbox migration %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("outbox migration %d: commit: %w", i+1, err)
		}
	}
	return nil
}

func (s *store) checkKey(ctx context.Context) error {
	var blob []byte
	err := s.db.QueryRowContext(ctx, "SELECT v FROM meta WHERE k = 'keycheck'").Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = s.db.ExecContext(ctx, "INSERT INTO meta(k, v) VALUES ('keycheck', ?)", s.seal.seal(keyCheck, 0, kindKeyCheck, 0))
		if err != nil {
			return fmt.Errorf("outbox database: store key check: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("outbox database: read key check: %w", err)
	}
	p, err := s.seal.open(blob, 0, kindKeyCheck, 0)
	if err != nil || !bytes.Equal(p, keyCheck) {
		return errors.New("outbox key does not match the one this database was created with")
	}
	return nil
}

func (s *store) close() error {
	err := s.ckpt.Close()
	// Fold the WAL back so a stopped kiosk leaves one file, then close.
	_, _ = s.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return errors.Join(err, s.db.Close())
}

// checkpointPassive copies the WAL into the database on the side connection;
// commits on db carry on meanwhile, and the first one after a complete pass
// starts the WAL over from its beginning.
func (s *store) checkpointPassive(ctx context.Context) error {
	var busy, logFrames, done int
	if err := s.ckpt.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &done); err != nil {
		return fmt.Errorf("passive wal checkpoint: %w", err)
	}
	return nil
}

// newIdempotencyKey returns 128 random bits in hex.
func newIdempotencyKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// insert writes the filing, its attachments and its outbox row in one
// transaction; when it returns nil, all of it is on disk.
func (s *store) insert(ctx context.Context, f *Filing) (Receipt, error) {
	key := newIdempotencyKey()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Receipt{}, refuse("begin", err)
	}
	defer tx.Rollback()
	// The id is in the AAD, so the row is inserted first and its blob sealed
	// once the id is known; both writes land in the same commit.
	res, err := tx.ExecContext(ctx, "INSERT INTO outbox(idem_key, created_at, filing) VALUES (?, ?, x'')", key, f.CreatedAt.UnixNano())
	if err != nil {
		return Receipt{}, refuse("insert row", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Receipt{}, refuse("insert row", err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE outbox SET filing = ? WHERE id = ?", s.seal.seal(encodeFiling(f), id, kindFiling, 0), id); err != nil {
		return Receipt{}, refuse("store filing", err)
	}
	for i := range f.Attachments {
		blob := s.seal.seal(encodeAttachment(&f.Attachments[i]), id, kindAttachment, i)
		if _, err := tx.ExecContext(ctx, "INSERT INTO attachment(outbox_id, seq, data) VALUES (?, ?, ?)", id, i, blob); err != nil {
			return Receipt{}, refuse(fmt.Sprintf("store attachment %d", i), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return Receipt{}, refuse("commit", err)
	}
	return Receipt{ID: id, IdempotencyKey: key}, nil
}

// head is the metadata of the oldest pending row.
type head struct {
	id       int64
	key      string
	created  time.Time
	attempts int
	nextAt   time.Time
}

func (s *store) head(ctx context.Context) (head, bool, error) {
	var h head
	var created, next int64
	err := s.db.QueryRowContext(ctx,
		"SELECT id, idem_key, created_at, attempts, next_at FROM outbox WHERE state = 0 ORDER BY id LIMIT 1").
		Scan(&h.id, &h.key, &created, &h.attempts, &next)
	if errors.Is(err, sql.ErrNoRows) {
		return head{}, false, nil
	}
	if err != nil {
		return head{}, false, fmt.Errorf("read outbox head: %w", err)
	}
	h.created, h.nextAt = time.Unix(0, created), time.Unix(0, next)
	return h, true, nil
}

// countAttempt records an attempt before it is made, so a delivery that crashes
// kioskd still counts toward MaxAttempts.
func (s *store) countAttempt(ctx context.Context, id int64, attempt int) error {
	if _, err := s.db.ExecContext(ctx, "UPDATE outbox SET attempts = ? WHERE id = ?", attempt, id); err != nil {
		return fmt.Errorf("count attempt of row %d: %w", id, err)
	}
	return nil
}

// load reads and opens a row's filing and attachments. An error wrapping
// errSealed means the stored data itself is bad (tampered, swapped, truncated).
func (s *store) load(ctx context.Context, id int64) (Filing, error) {
	var blob []byte
	if err := s.db.QueryRowContext(ctx, "SELECT filing FROM outbox WHERE id = ?", id).Scan(&blob); err != nil {
		return Filing{}, fmt.Errorf("read row %d: %w", id, err)
	}
	p, err := s.seal.open(blob, id, kindFiling, 0)
	if err != nil {
		return Filing{}, err
	}
	f, err := decodeFiling(p)
	if err != nil {
		return Filing{}, fmt.Errorf("%w: row %d: %w", errSealed, id, err)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT seq, data FROM attachment WHERE outbox_id = ? ORDER BY seq", id)
	if err != nil {
		return Filing{}, fmt.Errorf("read attachments of row %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			return Filing{}, fmt.Errorf("read attachments of row %d: %w", id, err)
		}
		if seq != len(f.Attachments) {
			return Filing{}, fmt.Errorf("%w: row %d: attachment %d missing", errSealed, id, len(f.Attachments))
		}
		p, err := s.seal.open(data, id, kindAttachment, seq)
		if err != nil {
			return Filing{}, err
		}
		a, err := decodeAttachment(p)
		if err != nil {
			return Filing{}, fmt.Errorf("%w: row %d: %w", errSealed, id, err)
		}
		f.Attachments = append(f.Attachments, a)
	}
	if err := rows.Err(); err != nil {
		return Filing{}, fmt.Errorf("read attachments of row %d: %w", id, err)
	}
	return f, nil
}

// purge deletes an acknowledged row and its attachments in one transaction.
// secure_delete has the freed pages zeroed in that same commit, and
// incremental_vacuum then gives them back to the filesystem. What still holds
// the row's old (sealed) frames is the WAL, until checkpoint empties it.
func (s *store) purge(ctx context.Context, id int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("purge row %d: %w", id, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM attachment WHERE outbox_id = ?", id); err != nil {
		return fmt.Errorf("purge attachments of row %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM outbox WHERE id = ?", id); err != nil {
		return fmt.Errorf("purge row %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("purge row %d: commit: %w", id, err)
	}
	if _, err := s.db.ExecContext(ctx, "PRAGMA incremental_vacuum"); err != nil {
		return fmt.Errorf("purge row %d: incremental vacuum: %w", id, err)
	}
	return nil
}

// checkpoint copies the WAL into the database (whose purged pages are zeros by
// then) and truncates it to nothing, so no frame of a purged filing lingers in
// the -wal file. Failure leaves nothing undelivered or logically unpurged, so
// callers only log it.
func (s *store) checkpoint(ctx context.Context) error {
	var busy, logFrames, done int
	if err := s.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done); err != nil {
		return fmt.Errorf("wal checkpoint: %w", err)
	}
	if busy != 0 {
		return errors.New("wal checkpoint: database busy, WAL not truncated")
	}
	return nil
}

func (s *store) reschedule(ctx context.Context, id int64, next time.Time, reason string) error {
	if _, err := s.db.ExecContext(ctx, "UPDATE outbox SET next_at = ?, last_error = ? WHERE id = ?", next.UnixNano(), reason, id); err != nil {
		return fmt.Errorf("reschedule row %d: %w", id, err)
	}
	return nil
}

func (s *store) deadLetter(ctx context.Context, id int64, now time.Time, reason string) error {
	if _, err := s.db.ExecContext(ctx, "UPDATE outbox SET state = 1, dead_at = ?, last_error = ? WHERE id = ?", now.UnixNano(), reason, id); err != nil {
		return fmt.Errorf("dead-letter row %d: %w", id, err)
	}
	return nil
}

// retry puts a dead letter back in the queue, with a fresh attempt budget and
// its original idempotency key and place (its id) in the order.
func (s *store) retry(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, "UPDATE outbox SET state = 0, attempts = 0, next_at = 0, dead_at = 0 WHERE id = ? AND state = 1", id)
	if err != nil {
		return fmt.Errorf("retry row %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("retry row %d: %w", id, err)
	} else if n == 1 {
		return nil
	}
	var state int
	err = s.db.QueryRowContext(ctx, "SELECT state FROM outbox WHERE id = ?", id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("retry row %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("retry row %d: %w", id, err)
	}
	return fmt.Errorf("retry row %d: %w", id, ErrNotDeadLetter)
}

// counts is what the status and the metrics report.
type counts struct {
	pending, dead int
	oldest        time.Time // zero when nothing is pending
}

func (s *store) counts(ctx context.Context) (counts, error) {
	var c counts
	var oldest sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(state = 0), 0), COALESCE(SUM(state = 1), 0), MIN(CASE WHEN state = 0 THEN created_at END)
		FROM outbox`).Scan(&c.pending, &c.dead, &oldest)
	if err != nil {
		return counts{}, fmt.Errorf("count outbox: %w", err)
	}
	if oldest.Valid {
		c.oldest = time.Unix(0, oldest.Int64)
	}
	return c, nil
}

func (s *store) list(ctx context.Context, limit int) ([]Entry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT o.id, o.idem_key, o.state, o.created_at, o.attempts, o.next_at, o.last_error, o.dead_at,
		length(o.filing) + COALESCE((SELECT SUM(length(a.data)) FROM attachment a WHERE a.outbox_id = o.id), 0),
		(SELECT COUNT(*) FROM attachment a WHERE a.outbox_id = o.id)
		FROM outbox o ORDER BY o.id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		var state int
		var created, next, dead int64
		if err := rows.Scan(&e.ID, &e.IdempotencyKey, &state, &created, &e.Attempts, &next, &e.LastError, &dead, &e.Bytes, &e.Attachments); err != nil {
			return nil, fmt.Errorf("list outbox: %w", err)
		}
		e.State = EntryPending
		if state == stateDead {
			e.State = EntryDead
			e.DeadLetteredAt = time.Unix(0, dead)
		} else if next != 0 {
			e.NextAttemptAt = time.Unix(0, next)
		}
		e.CreatedAt = time.Unix(0, created)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return out, nil
}

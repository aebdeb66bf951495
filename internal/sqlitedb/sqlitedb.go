// Package sqlitedb owns how the kiosk's small SQLite databases (queue, audit)
// are opened and versioned: a 0600 file, WAL so readers never block the
// writer, synchronous=FULL so what was committed survives a power cut,
// immediate transactions, one connection so the per-connection pragmas are
// certain; migrations numbered by their index, applied in one transaction and
// recorded in PRAGMA user_version, so a database written by a newer release is
// refused rather than misread.
package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"

	_ "github.com/mattn/go-sqlite3" // the SQLite driver
)

// Open opens (creating when absent) the database at path and brings it to
// len(migrations); name says which database in errors.
func Open(path, name string, migrations []string) (*sql.DB, error) {
	// Create the file 0600 before SQLite does (it would honour the umask).
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s database: %w", name, err)
	}
	f.Close()
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "5000")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite3", (&url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}).String())
	if err != nil {
		return nil, fmt.Errorf("%s database: %w", name, err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := Migrate(context.Background(), db, name, migrations); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Migrate brings db to len(migrations); name says which database in errors.
func Migrate(ctx context.Context, db *sql.DB, name string, migrations []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s database: %w", name, err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("%s database: %w", name, err)
	}
	if v > len(migrations) {
		return fmt.Errorf("%s database is schema version %d, newer than this kioskd knows (%d); it was written by a newer release", name, v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("%s database migration %d: %w", name, v+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			return fmt.Errorf("%s database migration %d: %w", name, v+1, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s database: %w", name, err)
	}
	return nil
}

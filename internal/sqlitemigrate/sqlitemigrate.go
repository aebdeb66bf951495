// Package sqlitemigrate owns the schema version of the kiosk's small SQLite
// databases (queue, audit): migrations are numbered by their index, applied
// in one transaction, and recorded in PRAGMA user_version, so a database
// written by a newer release is refused rather than misread.
package sqlitemigrate

import (
	"context"
	"database/sql"
	"fmt"
)

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

package sqlitedb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "t.db")
	v1 := []string{"CREATE TABLE a (x INTEGER)"}
	db, err := Open(path, "test", v1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode: %v %v", fi.Mode(), err)
	}
	ctx := context.Background()
	v2 := append(v1, "ALTER TABLE a ADD COLUMN y TEXT")
	for _, m := range [][]string{v1, v1, v2} {
		if err := Migrate(ctx, db, "test", m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("INSERT INTO a (x, y) VALUES (1, 'z')"); err != nil {
		t.Fatalf("schema after two migrations: %v", err)
	}
	if err := Migrate(ctx, db, "test", v1); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("an older release opening a newer database: %v", err)
	}
	bad := append(v2, "NOT SQL")
	if err := Migrate(ctx, db, "test", bad); err == nil || !strings.Contains(err.Error(), "migration 3") {
		t.Errorf("a failing migration: %v", err)
	}
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != 2 {
		t.Errorf("user_version after a failed migration = %d, want 2 (rolled back)", v)
	}
}

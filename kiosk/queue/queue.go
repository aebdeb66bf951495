// Package queue owns the numbered queue tickets a hospital kiosk prints: one
// counter per department per day in Vietnam time, kept in a small SQLite
// database (queue.db) in the state directory. A number is committed durably
// before it is handed out, so a crash or restart may at worst skip a number,
// never give one twice; the count starts again from 1 at local midnight. The
// package holds no personal data: a ticket is a department, a number and a time.
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/vnkiosk/kiosk/internal/sqlitedb"
)

// Vietnam is Vietnam time (UTC+7, no daylight saving), whose midnight resets the
// numbering. It is the same zone as filing.Vietnam.
var Vietnam = time.FixedZone("ICT", 7*60*60)

// DatabaseFile is the queue database's name inside the state directory.
const DatabaseFile = "queue.db"

// KeepDays is how many days of counters are kept: enough for a staff member to
// look back over a month, small enough that the file never grows.
const KeepDays = 30

// Ticket is one issued queue number.
type Ticket struct {
	Department string    // the department's code, as configured
	Number     int       // 1 for the day's first ticket of the department
	Day        string    // YYYY-MM-DD in Vietnam time
	IssuedAt   time.Time // the now given to Next
}

// Label is the ticket's printed number: see Label.
func (t Ticket) Label(prefix string) string { return Label(prefix, t.Number) }

// Label formats a ticket number as it is printed and called out: the
// department's prefix (a letter such as "K" for Khoa Khám bệnh, or "") followed
// by at least three digits, e.g. Label("K", 12) = "K012". Numbers past 999 keep
// all their digits ("K1000"), so a busy day never wraps onto an earlier number.
func Label(prefix string, number int) string {
	return fmt.Sprintf("%s%03d", prefix, number)
}

// DepartmentCount is how many tickets a department gave out on a day.
type DepartmentCount struct {
	Department string
	Issued     int       // the last number handed out
	LastAt     time.Time // when it was handed out
}

// Queue is the ticket counter. It is safe for concurrent use, and two processes
// may share one database file: each number is taken under SQLite's write lock.
type Queue struct {
	db *sql.DB
}

// migrations[i] takes the schema from user_version i to i+1. Append only.
var migrations = []string{
	`CREATE TABLE counter (
		day        TEXT    NOT NULL, -- YYYY-MM-DD, Vietnam time
		department TEXT    NOT NULL,
		last       INTEGER NOT NULL, -- the last number handed out
		last_at    INTEGER NOT NULL, -- Unix ns of that ticket
		PRIMARY KEY (day, department)
	) WITHOUT ROWID;`,
}

// Open opens (creating when absent) stateDir/queue.db: WAL so a staff member's
// reads never block a ticket, synchronous=FULL so a number handed out survives
// power loss, and an immediate transaction per ticket so the read and the
// increment are one step.
func Open(stateDir string) (*Queue, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("queue state directory: %w", err)
	}
	db, err := sqlitedb.Open(filepath.Join(stateDir, DatabaseFile), "queue", migrations)
	if err != nil {
		return nil, err
	}
	return &Queue{db: db}, nil
}

// Close closes the database.
func (q *Queue) Close() error { return q.db.Close() }

// Day is t's date in Vietnam time, YYYY-MM-DD.
func Day(t time.Time) string { return t.In(Vietnam).Format(time.DateOnly) }

// ErrBadDepartment is returned for a department code that is empty, longer than
// 32 bytes, or has spaces or control characters.
var ErrBadDepartment = errors.New("queue: a department code is 1 to 32 printable characters without spaces")

func checkDepartment(d string) error {
	if d == "" || len(d) > 32 || strings.IndexFunc(d, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return ErrBadDepartment
	}
	return nil
}

// Next hands out the next number of department for now's day in Vietnam time.
// The increment is one durable transaction: once Next returns, no later call,
// in this process or after a restart, returns the same number for that day. The
// same transaction drops counters older than KeepDays.
func (q *Queue) Next(ctx context.Context, department string, now time.Time) (Ticket, error) {
	if err := checkDepartment(department); err != nil {
		return Ticket{}, err
	}
	day := Day(now)
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return Ticket{}, fmt.Errorf("queue ticket: %w", err)
	}
	defer tx.Rollback()
	var n int
	err = tx.QueryRowContext(ctx, `INSERT INTO counter (day, department, last, last_at) VALUES (?, ?, 1, ?)
		ON CONFLICT (day, department) DO UPDATE SET last = last + 1, last_at = excluded.last_at
		RETURNING last`, day, department, now.UnixNano()).Scan(&n)
	if err != nil {
		return Ticket{}, fmt.Errorf("queue ticket: %w", err)
	}
	// Days are compared as text: YYYY-MM-DD sorts as dates do. A clock set far
	// ahead and then back would prune the real today; NTP keeps a kiosk's clock
	// from doing that, and the worst case is a day's numbers starting over.
	cutoff := now.In(Vietnam).AddDate(0, 0, -KeepDays).Format(time.DateOnly)
	if _, err := tx.ExecContext(ctx, `DELETE FROM counter WHERE day < ?`, cutoff); err != nil {
		return Ticket{}, fmt.Errorf("queue ticket: prune: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Ticket{}, fmt.Errorf("queue ticket: %w", err)
	}
	return Ticket{Department: department, Number: n, Day: day, IssuedAt: now}, nil
}

// Today lists how many tickets each department has given out on now's day in
// Vietnam time, by department code; departments without a ticket are absent.
func (q *Queue) Today(ctx context.Context, now time.Time) ([]DepartmentCount, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT department, last, last_at FROM counter WHERE day = ? ORDER BY department`, Day(now))
	if err != nil {
		return nil, fmt.Errorf("queue counts: %w", err)
	}
	defer rows.Close()
	var cs []DepartmentCount
	for rows.Next() {
		var c DepartmentCount
		var at int64
		if err := rows.Scan(&c.Department, &c.Issued, &at); err != nil {
			return nil, fmt.Errorf("queue counts: %w", err)
		}
		c.LastAt = time.Unix(0, at).In(Vietnam)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue counts: %w", err)
	}
	return cs, nil
}

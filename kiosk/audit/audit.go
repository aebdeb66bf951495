// Package audit owns the hospital kiosk's audit log of staff actions: every
// insurance lookup, login and failed login, with who did it, when, a keyed hash
// of the patient's ID number and the result code. It is append-only (SQLite
// triggers refuse updates and deletes) in audit.db in the state directory, and
// it is the only record the kiosk keeps of a lookup. No raw ID number is ever
// stored: patient and staff ID numbers are replaced by HMAC-SHA256 under the
// kiosk's "audit" key before they reach the database, so the file and its CSV
// export say "this person, again" without saying who to anyone without the key.
// The package also serves the export on the control socket (GET /v1/audit) and
// fetches it for kioskctl.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/vnkiosk/kiosk/internal/sqlitedb"
)

// Vietnam is Vietnam time (UTC+7, no daylight saving), in which exported times
// and the --since date are read.
var Vietnam = time.FixedZone("ICT", 7*60*60)

// DatabaseFile is the audit database's name inside the state directory.
const DatabaseFile = "audit.db"

// KeyName is the keystore purpose of the key ID numbers are hashed under:
// keystore.Key(stateDir, audit.KeyName).
const KeyName = "audit"

// Actions recorded by the kiosk. Other short lower-case codes are accepted.
const (
	ActionLogin          = "login"
	ActionLoginFailed    = "login_failed"
	ActionLogout         = "logout"
	ActionInsuranceCheck = "insurance_check"
)

// Entry is one audited action. StaffIDNumber and PatientIDNumber are raw when
// handed to Record and are hashed before anything is written; they are never
// stored, logged or returned.
type Entry struct {
	At              time.Time
	StaffName       string // the staff member's configured display name; "" for an unknown card
	StaffIDNumber   string // the staff member's ID number (from their card); hashed
	Action          string // ActionLogin, ActionInsuranceCheck, ...
	PatientIDNumber string // the patient's ID number or insurance code; hashed; "" when none
	Result          string // the result code, e.g. the gateway's maKetQua, or a login error code
}

// Log is the audit log. It is safe for concurrent use.
type Log struct {
	db  *sql.DB
	key []byte
}

var migrations = []string{
	`CREATE TABLE entry (
		id           INTEGER PRIMARY KEY AUTOINCREMENT,
		at           INTEGER NOT NULL, -- Unix ns
		staff_name   TEXT    NOT NULL,
		staff_hash   TEXT    NOT NULL, -- HMAC-SHA256(key, staff ID number), hex
		action       TEXT    NOT NULL,
		patient_hash TEXT    NOT NULL, -- HMAC-SHA256(key, patient ID number), hex, or ''
		result       TEXT    NOT NULL
	);
	CREATE INDEX entry_at ON entry(at);
	CREATE TRIGGER entry_no_update BEFORE UPDATE ON entry BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
	CREATE TRIGGER entry_no_delete BEFORE DELETE ON entry BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;`,
}

// Open opens (creating when absent) stateDir/audit.db. key is the 32-byte audit
// key from the keystore; it must be the same on every start, or the same person
// gets a different hash before and after.
func Open(stateDir string, key []byte) (*Log, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("audit log: key is %d bytes, want 32", len(key))
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("audit state directory: %w", err)
	}
	db, err := sqlitedb.Open(filepath.Join(stateDir, DatabaseFile), "audit", migrations)
	if err != nil {
		return nil, err
	}
	return &Log{db: db, key: append([]byte(nil), key...)}, nil
}

// Close closes the database.
func (l *Log) Close() error { return l.db.Close() }

// PatientHash is the keyed hash an ID number is stored as: hex HMAC-SHA256 under
// the audit key of the number with surrounding spaces removed and letters upper
// case (insurance codes such as "DN4797915329145" are matched whatever case they
// were typed in). The same function hashes staff ID numbers, so an auditor with
// kiosk access can find one person's entries. "" hashes to "".
func (l *Log) PatientHash(id string) string {
	id = strings.ToUpper(strings.TrimSpace(id))
	if id == "" {
		return ""
	}
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))
}

// ErrLooksLikeID is returned by Record when a free-text field (name, action,
// result) holds a run of 9 or more digits: that is what an ID number (9 or 12
// digits) or an insurance code looks like, and it must go in an ID field to be
// hashed, never be stored as text.
var ErrLooksLikeID = errors.New("audit entry: a text field holds what looks like an ID number")

func longDigitRun(s string) bool {
	run := 0
	for _, r := range s {
		if unicode.IsDigit(r) {
			run++
			if run >= 9 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// Record appends e durably (the commit is fsynced before Record returns).
func (l *Log) Record(ctx context.Context, e Entry) error {
	if e.At.IsZero() {
		return errors.New("audit entry: no time")
	}
	if e.Action == "" || len(e.Action) > 64 || len(e.Result) > 64 || len(e.StaffName) > 200 {
		return errors.New("audit entry: action missing, or a field too long")
	}
	for _, s := range []string{e.StaffName, e.Action, e.Result} {
		if longDigitRun(s) {
			return ErrLooksLikeID
		}
	}
	_, err := l.db.ExecContext(ctx, `INSERT INTO entry (at, staff_name, staff_hash, action, patient_hash, result) VALUES (?, ?, ?, ?, ?, ?)`,
		e.At.UnixNano(), e.StaffName, l.PatientHash(e.StaffIDNumber), e.Action, l.PatientHash(e.PatientIDNumber), e.Result)
	if err != nil {
		return fmt.Errorf("audit entry: %w", err)
	}
	return nil
}

// CSVHeader is the first line of an export.
var CSVHeader = []string{"time", "staff", "staff_hash", "action", "patient_hash", "result"}

// Export writes the entries at or after since as CSV, oldest first, with
// CSVHeader as the first row and times in RFC 3339 in Vietnam time. A field
// starting with =, +, - or @ is prefixed with ' so that a spreadsheet opening
// the file shows it rather than evaluating it.
func (l *Log) Export(ctx context.Context, w io.Writer, since time.Time) error {
	rows, err := l.db.QueryContext(ctx, `SELECT at, staff_name, staff_hash, action, patient_hash, result FROM entry WHERE at >= ? ORDER BY at, id`, since.UnixNano())
	if err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	for rows.Next() {
		var at int64
		var name, staff, action, patient, result string
		if err := rows.Scan(&at, &name, &staff, &action, &patient, &result); err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
		rec := []string{time.Unix(0, at).In(Vietnam).Format(time.RFC3339), defuse(name), staff, defuse(action), patient, defuse(result)}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	return nil
}

// defuse keeps a spreadsheet from reading a field as a formula (CSV injection).
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ParseDay reads a YYYY-MM-DD date as the start of that day in Vietnam time.
func ParseDay(s string) (time.Time, error) {
	t, err := time.ParseInLocation(time.DateOnly, s, Vietnam)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date; expected YYYY-MM-DD such as 2026-03-09", s)
	}
	return t, nil
}

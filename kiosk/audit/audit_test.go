package audit

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
)

var (
	key      = bytes.Repeat([]byte{7}, 32)
	otherKey = bytes.Repeat([]byte{8}, 32)
)

const (
	patientID = "079203004512"
	staffID   = "001090000001"
	bhytCode  = "DN4797915329145"
)

func openLog(t *testing.T, dir string, k []byte) *Log {
	t.Helper()
	l, err := Open(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func record(t *testing.T, l *Log, e Entry) {
	t.Helper()
	if err := l.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func export(t *testing.T, l *Log, since time.Time) [][]string {
	t.Helper()
	var b bytes.Buffer
	if err := l.Export(context.Background(), &b, since); err != nil {
		t.Fatal(err)
	}
	rs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, b.String())
	}
	return rs
}

var at = time.Date(2026, 3, 9, 9, 15, 0, 0, Vietnam)

// TestRawIDNumbersNeverStored writes entries carrying raw ID numbers and greps
// every file SQLite wrote (database, WAL, shared memory) and the export for them.
func TestRawIDNumbersNeverStored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, dir, key)
	for i := range 50 {
		record(t, l, Entry{At: at.Add(time.Duration(i) * time.Second), StaffName: "Y tá A", StaffIDNumber: staffID,
			Action: ActionInsuranceCheck, PatientIDNumber: patientID, Result: "000"})
	}
	record(t, l, Entry{At: at, StaffName: "Y tá A", StaffIDNumber: staffID, Action: ActionInsuranceCheck, PatientIDNumber: bhytCode, Result: "000"})
	record(t, l, Entry{At: at, StaffIDNumber: patientID, Action: ActionLoginFailed, Result: "unknown_staff"})
	var csvOut bytes.Buffer
	if err := l.Export(context.Background(), &csvOut, time.Time{}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, DatabaseFile+"*"))
	if len(files) < 2 {
		t.Fatalf("expected the database and its WAL, found %v", files)
	}
	blobs := map[string][]byte{"CSV export": csvOut.Bytes()}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		blobs[filepath.Base(f)] = b
	}
	// The hashes must be there (or the test proves nothing about what was written).
	if !bytes.Contains(blobs[DatabaseFile+"-wal"], []byte(l.PatientHash(patientID))) {
		t.Fatal("the WAL does not hold the patient hash: the grep below would not see a raw number either")
	}
	for name, b := range blobs {
		for _, id := range []string{patientID, staffID, bhytCode, strings.ToLower(bhytCode)} {
			if bytes.Contains(b, []byte(id)) {
				t.Errorf("%s contains the raw ID %q", name, id)
			}
		}
	}
	if !strings.Contains(csvOut.String(), l.PatientHash(patientID)) {
		t.Error("the export lacks the patient hash")
	}
}

func TestPatientHash(t *testing.T) {
	t.Parallel()
	a := openLog(t, t.TempDir(), key)
	b := openLog(t, t.TempDir(), key)
	c := openLog(t, t.TempDir(), otherKey)
	h := a.PatientHash(patientID)
	if len(h) != 64 || strings.Contains(h, patientID) {
		t.Errorf("hash %q", h)
	}
	if b.PatientHash(patientID) != h || a.PatientHash(" "+patientID+"\n") != h {
		t.Error("the same ID under the same key hashed differently")
	}
	if c.PatientHash(patientID) == h {
		t.Error("a different key gave the same hash")
	}
	if a.PatientHash("079203004513") == h {
		t.Error("different IDs gave the same hash")
	}
	if a.PatientHash(strings.ToLower(bhytCode)) != a.PatientHash(bhytCode) {
		t.Error("an insurance code's case changed its hash")
	}
	if a.PatientHash("") != "" {
		t.Error("empty ID hashed")
	}
}

func TestExportSinceAndOrder(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), key)
	day2, err := ParseDay("2026-03-10")
	if err != nil {
		t.Fatal(err)
	}
	record(t, l, Entry{At: day2.Add(2 * time.Hour), StaffName: "B", StaffIDNumber: staffID, Action: ActionLogin, Result: "ok"})
	record(t, l, Entry{At: day2.Add(-time.Second), StaffName: "A", StaffIDNumber: staffID, Action: ActionLogin, Result: "ok"}) // 23:59:59 on the 9th
	record(t, l, Entry{At: day2, StaffName: "C", StaffIDNumber: staffID, Action: ActionInsuranceCheck, PatientIDNumber: patientID, Result: "000"})
	rs := export(t, l, day2)
	if strings.Join(rs[0], ",") != "time,staff,staff_hash,action,patient_hash,result" {
		t.Errorf("header %v", rs[0])
	}
	if len(rs) != 3 {
		t.Fatalf("since the 10th: %d rows, want 2: %v", len(rs)-1, rs)
	}
	if rs[1][0] != "2026-03-10T00:00:00+07:00" || rs[1][1] != "C" || rs[1][4] != l.PatientHash(patientID) || rs[1][5] != "000" {
		t.Errorf("first row %v", rs[1])
	}
	if rs[2][1] != "B" || rs[2][3] != ActionLogin || rs[2][4] != "" || rs[2][2] != l.PatientHash(staffID) {
		t.Errorf("second row %v", rs[2])
	}
	if rs := export(t, l, time.Time{}); len(rs) != 4 || rs[1][1] != "A" {
		t.Errorf("everything: %v", rs)
	}
}

func TestExportEscaping(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), key)
	record(t, l, Entry{At: at, StaffName: "Nguyễn \"Bé\", A\nB", StaffIDNumber: staffID, Action: ActionLogin, Result: "=HYPERLINK(1)"})
	rs := export(t, l, time.Time{})
	if len(rs) != 2 {
		t.Fatalf("rows %v", rs)
	}
	if rs[1][1] != "Nguyễn \"Bé\", A\nB" {
		t.Errorf("name round trip: %q", rs[1][1])
	}
	if rs[1][5] != "'=HYPERLINK(1)" {
		t.Errorf("formula not defused: %q", rs[1][5])
	}
}

func TestRecordRejects(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), key)
	for name, e := range map[string]Entry{
		"ID in result":   {At: at, Action: ActionInsuranceCheck, Result: "not found " + patientID},
		"ID in name":     {At: at, Action: ActionLogin, StaffName: patientID},
		"code in action": {At: at, Action: bhytCode},
		"no time":        {Action: ActionLogin},
		"no action":      {At: at},
	} {
		err := l.Record(context.Background(), e)
		if err == nil {
			t.Errorf("%s: recorded", name)
		} else if strings.Contains(err.Error(), patientID) {
			t.Errorf("%s: error carries the ID: %v", name, err)
		}
		if strings.HasPrefix(name, "ID") && !errors.Is(err, ErrLooksLikeID) {
			t.Errorf("%s: %v, want ErrLooksLikeID", name, err)
		}
	}
	if rs := export(t, l, time.Time{}); len(rs) != 1 {
		t.Errorf("rejected entries stored: %v", rs)
	}
}

func TestAppendOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, dir, key)
	record(t, l, Entry{At: at, Action: ActionLogin, StaffIDNumber: staffID, Result: "ok"})
	for _, q := range []string{"UPDATE entry SET result = 'x'", "DELETE FROM entry"} {
		if _, err := l.db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", q, err)
		}
	}
	l.Close()
	// Survives a reopen.
	l = openLog(t, dir, key)
	if rs := export(t, l, time.Time{}); len(rs) != 2 {
		t.Errorf("after reopen: %v", rs)
	}
	if _, err := Open(t.TempDir(), key[:16]); err == nil {
		t.Error("a 16-byte key was accepted")
	}
}

func TestRouteAndExportVia(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), key)
	record(t, l, Entry{At: at, StaffName: "Y tá A", StaffIDNumber: staffID, Action: ActionInsuranceCheck, PatientIDNumber: patientID, Result: "000"})
	record(t, l, Entry{At: at.AddDate(0, 0, -2), StaffName: "Y tá A", StaffIDNumber: staffID, Action: ActionLogin, Result: "ok"})
	sock := filepath.Join(kiosktest.ShortTempDir(t), "c.sock")
	ln, err := control.Listen(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	Routes(l)(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	c := control.NewClient(sock)
	var b bytes.Buffer
	if err := ExportVia(context.Background(), c, at, &b); err != nil {
		t.Fatal(err)
	}
	rs, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rs) != 2 || rs[1][3] != ActionInsuranceCheck {
		t.Errorf("export via socket: %v %v", rs, err)
	}
	for _, q := range []string{"", "?since=09/03/2026"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/audit"+q, nil))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "YYYY-MM-DD") {
			t.Errorf("%q: %d %s", q, rec.Code, rec.Body)
		}
	}
}

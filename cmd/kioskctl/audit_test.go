package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/audit"
	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
)

// serveAudit serves an audit log's route on a control socket, as kioskd does.
func serveAudit(t *testing.T) (*audit.Log, string) {
	t.Helper()
	dir := kiosktest.ShortTempDir(t)
	l, err := audit.Open(dir, bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	sock := filepath.Join(dir, "c.sock")
	ln, err := control.Listen(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	audit.Routes(l)(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return l, sock
}

func TestAuditExport(t *testing.T) {
	t.Parallel()
	l, sock := serveAudit(t)
	day := time.Date(2026, 3, 9, 0, 0, 0, 0, audit.Vietnam)
	for _, e := range []audit.Entry{
		{At: day.Add(-time.Minute), StaffName: "Y tá Lan", StaffIDNumber: "001090000001", Action: audit.ActionLogin, Result: "ok"},
		{At: day.Add(9 * time.Hour), StaffName: "Y tá Lan", StaffIDNumber: "001090000001", Action: audit.ActionInsuranceCheck, PatientIDNumber: "079203004512", Result: "000"},
	} {
		if err := l.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := run("audit", "export", "--socket", sock, "--since", "2026-03-09")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rs) != 2 || rs[0][0] != "time" || rs[1][0] != "2026-03-09T09:00:00+07:00" || rs[1][3] != audit.ActionInsuranceCheck {
		t.Errorf("stdout export: %v %v\n%s", rs, err, out)
	}
	if strings.Contains(out, "079203004512") || strings.Contains(out, "001090000001") {
		t.Error("the export holds a raw ID number")
	}

	file := filepath.Join(t.TempDir(), "audit.csv")
	if code, _, errOut := run("audit", "export", "--socket", sock, "--since", "2026-03-08", "--out", file); code != 0 {
		t.Fatalf("--out exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(file)
	if err != nil || strings.Count(string(b), "\n") != 3 {
		t.Errorf("--out file: %v\n%s", err, b)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("--out file mode %v %v", fi.Mode(), err)
	}
}

func TestAuditExportUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"audit", "export", "--socket", "/nonexistent"},
		{"audit", "export", "--socket", "/nonexistent", "--since", "9/3/2026"},
		{"audit", "export", "--since", "2026-03-09", "extra"},
	} {
		if code, _, _ := run(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	code, _, errOut := run("audit", "export", "--socket", filepath.Join(t.TempDir(), "none.sock"), "--since", "2026-03-09")
	if code != 1 || !strings.Contains(errOut, "kioskd is not answering") {
		t.Errorf("no daemon: %d %q", code, errOut)
	}
}

package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
	"github.com/vnkiosk/kiosk/provisioning/selftest"
)

// serveSelftest answers POST /v1/selftest with rep on a control socket.
func serveSelftest(t *testing.T, rep selftest.Report) string {
	t.Helper()
	sock := filepath.Join(kiosktest.ShortTempDir(t), "c.sock")
	ln, err := control.Listen(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/selftest", func(w http.ResponseWriter, _ *http.Request) {
		control.WriteJSON(w, http.StatusOK, rep)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestSelftest(t *testing.T) {
	t.Parallel()
	allOK := selftest.Report{Checks: []selftest.Result{
		{Name: "card_reader", Status: selftest.OK, Reason: "reader present"},
		{Name: "disk", Status: selftest.Warn, Reason: "300 MiB free", Hint: "free space"},
	}}
	failing := selftest.Report{Checks: []selftest.Result{
		{Name: "card_reader", Status: selftest.OK, Reason: "reader present"},
		{Name: "printer", Status: selftest.Fail, Reason: "printer not reachable", Hint: "check the cable"},
		{Name: "scanner", Status: selftest.Fail, Reason: "scanner not found", Hint: "scanimage -L"},
	}}
	for _, tc := range []struct {
		name   string
		rep    selftest.Report
		json   bool
		code   int
		out    []string
		stderr string
	}{
		{name: "ok with a warning", rep: allOK, code: 0, out: []string{
			"✓ card_reader  ok    reader present\n", "! disk         warn  300 MiB free\n", "                   → free space\n", "1 ok, 1 warning(s), 0 failed"}},
		{name: "failures", rep: failing, code: 1, out: []string{"✗ printer      fail  printer not reachable\n", "→ check the cable", "1 ok, 0 warning(s), 2 failed"},
			stderr: "kioskctl selftest: 2 check(s) failed"},
		{name: "json", rep: failing, json: true, code: 1, stderr: "2 check(s) failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"selftest", "--socket", serveSelftest(t, tc.rep)}
			if tc.json {
				args = append(args, "--json")
			}
			code, out, errOut := run(args...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut, tc.code, tc.stderr)
			}
			for _, w := range tc.out {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tc.json {
				var raw struct {
					Checks []map[string]string `json:"checks"`
				}
				if err := json.Unmarshal([]byte(out), &raw); err != nil || len(raw.Checks) != 3 {
					t.Fatalf("JSON %v:\n%s", err, out)
				}
				for _, k := range []string{"name", "status", "reason", "hint"} {
					if _, ok := raw.Checks[0][k]; !ok {
						t.Errorf("JSON check lacks %q: %v", k, raw.Checks[0])
					}
				}
			}
		})
	}
	if code, _, _ := run("selftest", "--bogus"); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
}

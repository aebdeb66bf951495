package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
	"github.com/vnkiosk/kiosk/kiosk/submission"
	"github.com/vnkiosk/kiosk/provisioning/identity"
)

// TestDemoExternalBackend runs `kioskd --demo --backend URL --backend-ca FILE`
// against `kioskctl sim backend --demo-enrolment`: the demo kiosk enrols over
// EST by itself, reaches READY, and its outbox forwards a filing submitted
// with `kioskctl filing submit` to that backend over mutual TLS.
func TestDemoExternalBackend(t *testing.T) {
	t.Parallel()
	kioskd := kiosktest.BuildBinary(t, "github.com/vnkiosk/kiosk/cmd/kioskd")
	kioskctl := kiosktest.BuildBinary(t, "github.com/vnkiosk/kiosk/cmd/kioskctl")
	dir := kiosktest.ShortTempDir(t)

	sim := exec.Command(kioskctl, "sim", "backend", "--listen", "127.0.0.1:0", "--tls-dir", filepath.Join(dir, "tls"), "--demo-enrolment")
	var simErr bytes.Buffer
	sim.Stderr = &simErr
	simOut, _ := sim.StdoutPipe()
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Process.Signal(syscall.SIGTERM); sim.Wait() })
	fields := map[string]string{}
	lines := bufio.NewScanner(simOut)
	for fields["kiosk key"] == "" && lines.Scan() {
		if k, v, ok := strings.Cut(lines.Text(), ": "); ok {
			fields[k] = v
		}
	}
	url, caFile := fields["backend"], fields["ca"]
	if url == "" || caFile == "" {
		t.Fatalf("sim backend printed %v; stderr %q", fields, simErr.String())
	}
	go func() {
		for lines.Scan() {
		}
	}()

	state, socket := filepath.Join(dir, "state"), filepath.Join(dir, "c.sock")
	var logs bytes.Buffer
	kd := exec.Command(kioskd, "--demo", "--backend", url, "--backend-ca", caFile, "--state-dir", state,
		"--control-socket", socket, "--ui-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
	kd.Stderr = &logs
	if err := kd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kd.Process.Signal(syscall.SIGTERM); kd.Wait() })
	cl := control.NewClient(socket)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st, err := cl.Status(context.Background()); err == nil && st.Ready {
			break
		}
		if time.Now().After(deadline) {
			kd.Process.Kill()
			t.Fatalf("kioskd --demo --backend not ready:\n%s", logs.String())
		}
	}

	// The kiosk enrolled: its identity is in the state directory, pinned to
	// the external backend's CA.
	id, err := identity.Load(state)
	if err != nil {
		t.Fatalf("no identity after enrolment: %v\n%s", err, logs.String())
	}
	ca, _ := os.ReadFile(caFile)
	if pinned, _ := os.ReadFile(id.CAFile()); string(pinned) != string(ca) {
		t.Error("the demo kiosk did not pin the backend's CA")
	}

	example, err := exec.Command(kioskctl, "filing", "example").Output()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "filing.json")
	if err := os.WriteFile(file, example, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kioskctl, "filing", "submit", "--file", file, "--socket", socket).Output()
	if err != nil {
		t.Fatalf("filing submit: %v: %s", err, out)
	}
	maHoSo, _, _ := strings.Cut(string(out), "\n") // the first line is the MaHoSo

	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		v, err := submission.OutboxVia(context.Background(), cl)
		if err == nil && v.Stats.Pending == 0 {
			if v.Stats.DeadLetters != 0 {
				t.Fatalf("dead-lettered: %+v", v.Entries)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox did not drain: %+v %v\n%s", v.Stats, err, logs.String())
		}
	}

	// The external backend holds the filing (its /_sim/ endpoints need a
	// client certificate too: use the kiosk's).
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: id.CAPool(), Certificates: []tls.Certificate{id.TLSCertificate()}}}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(url + "/_sim/filings")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stored []refbackend.SimFiling
	if err := json.NewDecoder(resp.Body).Decode(&stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || stored[0].MaHoSo != maHoSo {
		t.Fatalf("backend holds %+v; want the one filing %q", stored, maHoSo)
	}
}

package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
	"github.com/vnkiosk/kiosk/kiosk/staff"
	"github.com/vnkiosk/kiosk/kiosk/submission"
)

// TestSystemdLifecycle runs the real binary as systemd would: with a NOTIFY_SOCKET
// datagram socket, then SIGHUP and SIGTERM, and checks what it told systemd.
func TestSystemdLifecycle(t *testing.T) {
	t.Parallel()
	bin := kiosktest.BuildBinary(t, "github.com/vnkiosk/kiosk/cmd/kioskd")
	dir := kiosktest.ShortTempDir(t)
	notify := filepath.Join(dir, "notify.sock")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	states := make(chan string, 32)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := nc.Read(buf)
			if err != nil {
				close(states)
				return
			}
			states <- string(buf[:n])
		}
	}()

	socket := filepath.Join(dir, "control.sock")
	cfgFile := filepath.Join(dir, "kioskd.yaml")
	writeConfig := func(id string) {
		cfg := "kiosk:\n  id: " + id + "\nsite:\n  code: \"79001\"\nui:\n  listen: 127.0.0.1:0\n  secret_file: " + filepath.Join(dir, "ui-secret") + "\nmetrics:\n  listen: 127.0.0.1:0\n" +
			"control:\n  socket: " + socket + "\nstate_dir: " + filepath.Join(dir, "state") + "\n"
		if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("LIFECYCLE-1")

	cmd := exec.Command(bin, "--config", cfgFile)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify)
	// A buffer, not StderrPipe: Wait closes a pipe as soon as the process
	// exits, and the last lines ("kioskd stopped") could be lost unread.
	var stderr kiosktest.SyncBuffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	expect := func(prefix string) {
		t.Helper()
		for {
			select {
			case s, ok := <-states:
				if !ok {
					t.Fatalf("notify socket closed waiting for %s", prefix)
				}
				if strings.HasPrefix(s, prefix) {
					return
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no %s from kioskd within 10s", prefix)
			}
		}
	}
	expect("READY=1")
	t.Logf("start to READY=1: %s", time.Since(t0))

	cl := control.NewClient(socket)
	st, err := cl.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.KioskID != "LIFECYCLE-1" || !st.Ready || st.ConfigPath != cfgFile {
		t.Errorf("status %+v", st)
	}

	// Without a backend the kiosk cannot promise delivery: it refuses filings.
	if _, err := submission.SubmitVia(context.Background(), cl, submission.Request{Filing: []byte(`{}`)}); err == nil ||
		!strings.Contains(err.Error(), "no backend configured") {
		t.Errorf("filing without a backend: %v", err)
	}

	writeConfig("LIFECYCLE-2")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	expect("RELOADING=1")
	expect("READY=1")
	if st, err = cl.Status(context.Background()); err != nil || st.KioskID != "LIFECYCLE-2" {
		t.Errorf("after reload: %+v %v", st, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	expect("STOPPING=1")
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("kioskd exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("kioskd did not exit within 10s of SIGTERM")
	}
	if log := stderr.String(); !strings.Contains(log, `"msg":"kioskd stopped"`) {
		t.Errorf("log lacks a clean stop:\n%s", log)
	}
}

func TestBadConfigExitsWithLine(t *testing.T) {
	t.Parallel()
	bin := kiosktest.BuildBinary(t, "github.com/vnkiosk/kiosk/cmd/kioskd")
	f := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(f, []byte("kiosk:\n  id: X\nsite:\n  code: Y\n  kind: moon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--config", f).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2", err)
	}
	if want := f + `:5: site.kind: "moon" is not a site kind; expected ward or hospital`; !strings.Contains(string(out), want) {
		t.Errorf("output %q lacks %q", out, want)
	}
}

// The demo's PIN hashes are constants; they must stay the hashes of the PINs
// the demo prints.
func TestDemoPINHashes(t *testing.T) {
	t.Parallel()
	for pin, hash := range map[string]string{demoStaffPIN: demoStaffPINHash, demoTechnicianPIN: demoTechnicianPINHash} {
		if ok, err := staff.VerifyPIN(hash, pin); !ok || err != nil {
			t.Errorf("the demo hash for PIN %s does not verify: %v", pin, err)
		}
	}
}

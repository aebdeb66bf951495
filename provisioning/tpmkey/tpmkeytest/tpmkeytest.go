// Package tpmkeytest runs Debian's swtpm, a software TPM 2.0, for tests of
// code that keeps the kiosk's device key in a TPM.
package tpmkeytest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// SWTPM is one run of the swtpm software TPM on a state directory.
type SWTPM struct {
	cmd  *exec.Cmd
	Sock string        // data channel: raw TPM 2.0 commands over a Unix socket
	out  *bytes.Buffer // swtpm's stdout and stderr; read only after exited
	// exited is closed once swtpm has exited and waitErr is set.
	exited  chan struct{}
	waitErr error
}

// Need skips the test when swtpm is not installed, unless the build requires
// every tool (KIOSK_REQUIRE_TOOLS=1), so CI cannot pass by skipping.
func Need(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("swtpm"); err != nil {
		if os.Getenv("KIOSK_REQUIRE_TOOLS") == "1" {
			t.Fatal("needs the Debian package swtpm")
		}
		t.Skip("swtpm not installed (Debian package swtpm)")
	}
}

// Start runs swtpm with its data and control channels on Unix sockets in
// a fresh directory and waits until the data socket accepts. swtpm sends
// TPM2_Startup itself (startup-clear), so the data channel is ready for raw
// TPM 2.0 commands. Unix sockets rather than TCP ports: a port found free by
// listening on :0 can be handed to a parallel test's listener before swtpm
// binds it, and the test then talks TPM to someone else's server.
func Start(t testing.TB, stateDir string) *SWTPM {
	t.Helper()
	Need(t)
	sockDir := t.TempDir()
	sw := &SWTPM{
		Sock:   filepath.Join(sockDir, "tpm.sock"),
		out:    new(bytes.Buffer),
		exited: make(chan struct{}),
	}
	sw.cmd = exec.Command("swtpm", "socket", "--tpm2",
		"--tpmstate", "dir="+stateDir,
		"--server", "type=unixio,path="+sw.Sock,
		"--ctrl", "type=unixio,path="+filepath.Join(sockDir, "ctrl.sock"),
		"--flags", "not-need-init,startup-clear")
	sw.cmd.Stdout, sw.cmd.Stderr = sw.out, sw.out
	if err := sw.cmd.Start(); err != nil {
		t.Fatalf("start swtpm: %v", err)
	}
	go func() {
		sw.waitErr = sw.cmd.Wait()
		close(sw.exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("unix", sw.Sock)
		if err == nil {
			conn.Close() // swtpm serves the next connection once this one is gone
			return sw
		}
		select {
		case <-sw.exited:
			t.Fatalf("swtpm exited (%v): %s", sw.waitErr, sw.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			sw.Stop(t)
			t.Fatalf("swtpm socket %s not accepting after 10s: %v", sw.Sock, err)
		}
	}
}

// Stop terminates swtpm with SIGTERM, on which it saves its state and exits,
// so a later run on the same directory sees the same TPM.
func (sw *SWTPM) Stop(t testing.TB) {
	t.Helper()
	select {
	case <-sw.exited:
		return
	default:
	}
	_ = sw.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-sw.exited:
	case <-time.After(10 * time.Second):
		_ = sw.cmd.Process.Kill()
		<-sw.exited
		t.Errorf("swtpm ignored SIGTERM for 10s; killed it. Output: %s", sw.out.String())
	}
}

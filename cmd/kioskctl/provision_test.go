package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
	"github.com/vnkiosk/kiosk/provisioning/identity"
)

// TestProvisionCommand provisions with `kioskctl provision` (the built
// binary) against `kioskctl sim backend --est-token`, then replays the token:
// exit 1 and the one sentence.
func TestProvisionCommand(t *testing.T) {
	t.Parallel()
	bin := kiosktest.BuildBinary(t, "github.com/vnkiosk/kiosk/cmd/kioskctl")
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out backendOutput
	var errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"sim", "backend", "--listen", "127.0.0.1:0", "--tls-dir", filepath.Join(dir, "tls"),
			"--est-token", "one-time-1", "--est-token", "one-time-2"}, &out, &errOut)
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for out.field("kiosk key") == "" {
		if time.Now().After(deadline) {
			t.Fatalf("sim backend printed nothing; stderr %q", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	url, fp := out.field("backend"), out.field("ca fingerprint")

	provision := func(token, state string, extra ...string) (int, string, string) {
		t.Helper()
		args := append([]string{"provision", "--server", url, "--token", token, "--site", "000.31.20.H29", "--state-dir", state}, extra...)
		cmd := exec.Command(bin, args...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0, o.String(), e.String()
		case errors.As(err, &ee):
			return ee.ExitCode(), o.String(), e.String()
		}
		t.Fatal(err)
		return 0, "", ""
	}

	state := filepath.Join(dir, "state")
	code, stdout, stderr := provision("one-time-1", state, "--ca-fingerprint", strings.ToUpper(fp), "--kiosk-id", "kiosk-ctl")
	if code != 0 {
		t.Fatalf("provision: exit %d, stderr %q", code, stderr)
	}
	id, err := identity.Load(state)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kiosk: kiosk-ctl\n", "certificate expires: " + id.NotAfter().UTC().Format(time.RFC3339), "identity: " + filepath.Join(state, "identity")} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout %q lacks %q", stdout, want)
		}
	}
	if st, err := os.Stat(id.KeyFile()); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("device key: %v %v", st.Mode(), err)
	}

	code, stdout, stderr = provision("one-time-1", filepath.Join(dir, "state2"), "--ca-fingerprint", fp)
	want := "kioskctl provision: the enrolment token was refused: it is wrong or has already been used; ask for a new token\n"
	if code != 1 || stderr != want || stdout != "" {
		t.Fatalf("replay: exit %d, stdout %q, stderr %q; want exit 1 and %q", code, stdout, stderr, want)
	}

	// A fingerprint of another CA stops before the token is used: the
	// second token still works afterwards.
	code, _, stderr = provision("one-time-2", filepath.Join(dir, "state3"), "--ca-fingerprint", strings.Repeat("00", 32))
	if code != 1 || !strings.Contains(stderr, "does not match the pinned CA") {
		t.Fatalf("wrong fingerprint: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr = provision("one-time-2", filepath.Join(dir, "state3"), "--ca-fingerprint", fp); code != 0 {
		t.Fatalf("second token: exit %d, stderr %q", code, stderr)
	}
}

func TestProvisionUsage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"provision", "--server", "https://127.0.0.1:1", "--site", "S"}, "--server, --token and --site are required"},
		{[]string{"provision", "--server", "https://127.0.0.1:1", "--token", "t", "--site", "S"}, "exactly one of --ca-fingerprint and --ca-file"},
		{[]string{"provision", "--server", "https://127.0.0.1:1", "--token", "t", "--site", "S", "--ca-fingerprint", "abc"}, "not a SHA-256"},
	} {
		code, _, stderr := run(tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

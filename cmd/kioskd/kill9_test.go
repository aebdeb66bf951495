package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/filing"
	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
	"github.com/vnkiosk/kiosk/kiosk/procedure"
	"github.com/vnkiosk/kiosk/kiosk/submission"
)

// TestKill9DuringForwarding submits filings to a real kioskd through the control
// socket — the path a finished UI flow takes — and kills it with SIGKILL at random
// moments while its outbox forwards them to the reference backend over mTLS,
// which is slow and fails some requests on purpose. After 20 rounds a last
// kioskd drains the outbox. Every filing kioskd acknowledged must be stored at
// the backend exactly once, with the content that was submitted.
func TestKill9DuringForwarding(t *testing.T) {
	t.Parallel()
	bin := kiosktest.BuildBinary(t, "github.com/vnkiosk/kiosk/cmd/kioskd")
	dir := kiosktest.ShortTempDir(t)
	pki, err := refbackend.EnsurePKI(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	rb, err := refbackend.New(refbackend.Options{Latency: 20 * time.Millisecond, ErrorRate: 0.2, DropRate: 0.1, Seed: 9, RequireSignature: true})
	if err != nil {
		t.Fatal(err)
	}
	url, err := rb.Start("127.0.0.1:0", pki)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()

	socket := filepath.Join(dir, "c.sock")
	cfgFile := filepath.Join(dir, "kioskd.yaml")
	cfg := fmt.Sprintf(`kiosk: {id: KILL9}
site: {code: "000.31.20.H29"}
ui: {listen: "127.0.0.1:0", secret_file: %q}
metrics: {listen: "127.0.0.1:0"}
control: {socket: %q}
state_dir: %q
backend: {url: %q, ca_file: %q, cert_file: %q, key_file: %q}
devices:
  card_reader: {reader: "No Such Reader"}
`, filepath.Join(dir, "ui-secret"), socket, filepath.Join(dir, "state"), url, pki.Path(refbackend.CAFile), pki.Path(refbackend.KioskCertFile), pki.Path(refbackend.KioskKeyFile))
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	example, err := filing.Example(procedure.All()[0].Code)
	if err != nil {
		t.Fatal(err)
	}
	agency := example.MaHoSo[:strings.Index(example.MaHoSo, "-")]
	submitted := map[string]string{} // MaHoSo → sha256 of the filing JSON as sent
	seq := 0
	cl := control.NewClient(socket)
	rnd := rand.New(rand.NewPCG(1, 2))

	var logs bytes.Buffer
	start := func() *exec.Cmd {
		t.Helper()
		cmd := exec.Command(bin, "--config", cfgFile)
		logs.Reset()
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if st, err := cl.Status(context.Background()); err == nil && st.Ready {
				return cmd
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("kioskd not ready:\n%s", logs.String())
			}
		}
	}

	const rounds = 20
	for round := range rounds {
		cmd := start()
		for range 3 {
			seq++
			f := *example
			if f.MaHoSo, err = filing.NewMaHoSo(agency, time.Now(), seq); err != nil {
				t.Fatal(err)
			}
			raw, err := filing.Encode(&f)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			rec, err := submission.SubmitVia(ctx, cl, submission.Request{Filing: raw})
			cancel()
			if err != nil {
				t.Fatalf("round %d: submit %d: %v", round, seq, err)
			}
			var compact bytes.Buffer
			json.Compact(&compact, raw)
			sum := sha256.Sum256(compact.Bytes())
			submitted[rec.MaHoSo] = hex.EncodeToString(sum[:])
		}
		// Kill while the outbox is forwarding: some filings are in flight,
		// some acknowledged but not yet purged, some not yet sent.
		time.Sleep(time.Duration(rnd.IntN(250)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
	}

	cmd := start()
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		v, err := submission.OutboxVia(context.Background(), cl)
		if err == nil && v.Stats.Pending == 0 {
			if v.Stats.DeadLetters != 0 {
				t.Fatalf("%d filings dead-lettered: %+v", v.Stats.DeadLetters, v.Entries)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox did not drain: %+v %v\n%s", v.Stats, err, logs.String())
		}
	}

	stored := map[string]refbackend.SimFiling{}
	deliveries := 0
	for _, f := range rb.Filings() {
		if _, dup := stored[f.MaHoSo]; dup {
			t.Errorf("%s stored twice", f.MaHoSo)
		}
		stored[f.MaHoSo] = f
		deliveries += f.Deliveries
	}
	for m, sum := range submitted {
		f, ok := stored[m]
		switch {
		case !ok:
			t.Errorf("%s was acknowledged by kioskd but never reached the backend", m)
		case f.SHA256 != sum:
			t.Errorf("%s stored with other content: %s, submitted %s", m, f.SHA256, sum)
		}
	}
	if len(stored) != len(submitted) {
		t.Errorf("backend holds %d filings, %d were submitted", len(stored), len(submitted))
	}
	t.Logf("%d rounds of SIGKILL, %d filings, %d deliveries (duplicates absorbed by idempotency keys), faults %+v",
		rounds, len(submitted), deliveries, rb.Faults())
}

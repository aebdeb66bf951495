package outbox_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/outbox"
	"github.com/vnkiosk/kiosk/kiosk/outbox/internal/outboxtest"
)

// The kill -9 test re-executes this test binary as the kiosk: with childEnv set,
// TestMain runs childMain instead of the tests.
const childEnv = "OUTBOX_KILL9_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode))
	}
	os.Exit(m.Run())
}

// childMain is the kiosk under test. In "enqueue" mode it enqueues filings as
// fast as a busy kiosk would while the sender forwards them, and after each
// Enqueue returns it writes "ENQ <key> <content hash>" to stdout: a write to a
// pipe that has returned survives the writer's SIGKILL, so the parent knows of
// every filing whose Enqueue returned (and of none whose did not). In "drain"
// mode it only forwards until the queue is empty, then stops cleanly.
func childMain(mode string) int {
	dir, url := os.Getenv("OUTBOX_DIR"), os.Getenv("OUTBOX_URL")
	seed, _ := strconv.ParseUint(os.Getenv("OUTBOX_SEED"), 10, 64)
	key, _ := hex.DecodeString(os.Getenv("OUTBOX_KEY"))
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "child %s: %s: %v\n", mode, what, err)
		return 3
	}
	o, err := outbox.New(outbox.Options{
		StateDir: dir, Key: key, Forwarder: &outboxtest.Forwarder{URL: url},
		BackoffBase: 2 * time.Millisecond, BackoffCap: 30 * time.Millisecond,
		BreakerThreshold: 20, BreakerCooldown: 20 * time.Millisecond, MaxAttempts: 1 << 30,
	})
	if err != nil {
		return fail("new", err)
	}
	ctx := context.Background()
	if err := o.Start(ctx); err != nil {
		return fail("start", err)
	}
	switch mode {
	case "enqueue":
		rng := rand.New(rand.NewPCG(seed, uint64(os.Getpid())))
		for n := 0; ; n++ {
			f := randomFiling(rng, seed, n)
			r, err := o.Enqueue(ctx, f)
			if err != nil {
				return fail("enqueue", err)
			}
			if _, err := fmt.Fprintf(os.Stdout, "ENQ %s %s\n", r.IdempotencyKey, outboxtest.ContentHash(f)); err != nil {
				return fail("report", err)
			}
			time.Sleep(time.Duration(rng.IntN(15)) * time.Millisecond)
		}
	case "drain":
		deadline := time.Now().Add(40 * time.Second)
		for {
			s, err := o.Stats(ctx)
			if err != nil {
				return fail("stats", err)
			}
			if s.Pending == 0 && !s.InFlight {
				break
			}
			if time.Now().After(deadline) {
				return fail("drain", fmt.Errorf("still %+v", s))
			}
			time.Sleep(5 * time.Millisecond)
		}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := o.Stop(sctx); err != nil {
			return fail("stop", err)
		}
		fmt.Println("DRAINED")
		return 0
	}
	return fail("mode", fmt.Errorf("unknown %q", mode))
}

func randomFiling(rng *rand.Rand, seed uint64, n int) outbox.Filing {
	f := outbox.Filing{
		MaHoSo:        fmt.Sprintf("000.00.01.H01-%d-%d-%04d", seed, os.Getpid(), n),
		ProcedureCode: "1.001193",
		Body:          fmt.Appendf(nil, `{"n":%d,"r":%d}`, n, rng.Uint64()),
	}
	for i := range rng.IntN(4) {
		data := make([]byte, 1000+rng.IntN(30_000))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		f.Attachments = append(f.Attachments, outbox.Attachment{Name: fmt.Sprintf("p%d", i), ContentType: "image/jpeg", Data: data})
	}
	return f
}

// TestKill9 kills the kiosk with SIGKILL at random instants while it enqueues
// and forwards (to a backend that also fails at random, loses answers and drops
// connections), restarts it each time, then lets it drain, and checks that every
// filing whose Enqueue returned reached the backend exactly once in effect, with
// the content that was enqueued, and that the outbox is empty.
func TestKill9(t *testing.T) {
	runKill9(t, 24, 400*time.Millisecond)
}

// TestKill9Soak is the long variant (make soak).
func TestKill9Soak(t *testing.T) {
	if os.Getenv("KIOSK_SOAK") != "1" {
		t.Skip("KIOSK_SOAK=1 runs the soak")
	}
	runKill9(t, 400, 1500*time.Millisecond)
}

func runKill9(t *testing.T, rounds int, maxLife time.Duration) {
	if testing.Short() {
		t.Skip("-short")
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	srv := outboxtest.NewServer(outboxtest.Faults{Unavailable: 0.1, LostAnswer: 0.05, Drop: 0.05, Delay: 2 * time.Millisecond}, seed)
	defer srv.Close()

	var mu sync.Mutex
	enqueued := map[string]string{} // key -> content hash, from the child's reports
	run := func(mode string, life time.Duration) (killed bool) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+mode, "OUTBOX_DIR="+dir, "OUTBOX_URL="+srv.URL,
			"OUTBOX_SEED="+strconv.FormatUint(rng.Uint64(), 10), "OUTBOX_KEY="+hex.EncodeToString(testKey))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		read := make(chan bool)
		go func() {
			drained := false
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				fs := strings.Fields(sc.Text())
				switch {
				case len(fs) == 3 && fs[0] == "ENQ":
					mu.Lock()
					enqueued[fs[1]] = fs[2]
					mu.Unlock()
				case len(fs) == 1 && fs[0] == "DRAINED":
					drained = true
				}
			}
			read <- drained
		}()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if life > 0 {
			select {
			case err := <-exited:
				<-read
				t.Fatalf("child exited by itself (%v):\n%s", err, stderr.String())
			case <-time.After(life):
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-read
			<-exited
			return true
		}
		select {
		case err := <-exited:
			drained := <-read
			if err != nil || !drained {
				t.Fatalf("drain child: %v drained=%v\n%s", err, drained, stderr.String())
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("drain child did not finish:\n%s", stderr.String())
		}
		return false
	}

	for i := range rounds {
		// Some kills land during start-up and recovery, most mid-traffic.
		run("enqueue", time.Duration(rng.Int64N(int64(maxLife)))+5*time.Millisecond)
		if i%8 == 0 {
			mu.Lock()
			t.Logf("round %d: %d filings reported enqueued", i, len(enqueued))
			mu.Unlock()
		}
	}
	run("drain", 0)

	recs := srv.Records()
	dups := 0
	for _, r := range recs {
		dups += r.Deliveries - 1
		if r.Conflicts != 0 {
			t.Errorf("a key was delivered with differing content %d times", r.Conflicts)
		}
	}
	for key, hash := range enqueued {
		r, ok := recs[key]
		switch {
		case !ok:
			t.Errorf("filing %s: Enqueue returned, the backend never got it", key)
		case r.Hash != hash:
			t.Errorf("filing %s: delivered content differs from what was enqueued", key)
		}
	}
	t.Logf("%d rounds: %d filings acknowledged by Enqueue, %d stored by the backend (the rest were enqueued just before a kill, unreported), %d duplicate deliveries absorbed",
		rounds, len(enqueued), len(recs), dups)
	if len(enqueued) < rounds {
		t.Errorf("only %d filings enqueued over %d rounds: the test did not exercise the queue", len(enqueued), rounds)
	}
	if extra := len(recs) - len(enqueued); extra > rounds {
		t.Errorf("%d unreported filings reached the backend; at most one per kill (%d) can be in that window", extra, rounds)
	}
	if dups == 0 {
		t.Error("no duplicate delivery happened: the lost-answer and kill paths were not exercised")
	}
	db := rawDB(t, dir)
	var rows, atts int
	if err := db.QueryRow("SELECT (SELECT COUNT(*) FROM outbox), (SELECT COUNT(*) FROM attachment)").Scan(&rows, &atts); err != nil {
		t.Fatal(err)
	}
	if rows != 0 || atts != 0 {
		t.Errorf("outbox not empty after draining: %d rows, %d attachments", rows, atts)
	}
}

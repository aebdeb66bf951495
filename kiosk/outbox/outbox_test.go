package outbox_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/kiosktest"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vnkiosk/kiosk/kiosk/daemon"
	"github.com/vnkiosk/kiosk/kiosk/logging"
	"github.com/vnkiosk/kiosk/kiosk/outbox"
	"github.com/vnkiosk/kiosk/kiosk/outbox/internal/outboxtest"
)

var testKey = bytes.Repeat([]byte{7}, 32)

// sent is what a test forwarder saw of one delivery (the plaintext itself is
// wiped once Forward returns).
type sent struct {
	ID      int64
	Key     string
	Attempt int
	Hash    string
	MaHoSo  string
}

// scripted is a Forwarder whose answer a test decides per delivery.
type scripted struct {
	mu     sync.Mutex
	answer func(d outbox.Delivery) error
	log    []sent
	ch     chan sent
}

func newScripted(answer func(outbox.Delivery) error) *scripted {
	return &scripted{answer: answer, ch: make(chan sent, 1000)}
}

func (s *scripted) Forward(ctx context.Context, d outbox.Delivery) error {
	s.mu.Lock()
	answer := s.answer
	s.mu.Unlock()
	err := answer(d)
	rec := sent{ID: d.OutboxID, Key: d.IdempotencyKey, Attempt: d.Attempt, Hash: outboxtest.ContentHash(d.Filing), MaHoSo: d.Filing.MaHoSo}
	s.mu.Lock()
	s.log = append(s.log, rec)
	s.mu.Unlock()
	s.ch <- rec
	return err
}

func (s *scripted) setAnswer(f func(outbox.Delivery) error) {
	s.mu.Lock()
	s.answer = f
	s.mu.Unlock()
}

func accept(outbox.Delivery) error { return nil }

// next waits for the forwarder's next delivery.
func (s *scripted) next(t *testing.T) sent {
	t.Helper()
	select {
	case d := <-s.ch:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10s")
		return sent{}
	}
}

func baseOptions(dir string, f outbox.Forwarder) outbox.Options {
	return outbox.Options{
		StateDir: dir, Key: testKey, Forwarder: f,
		BackoffBase: time.Millisecond, BackoffCap: 20 * time.Millisecond,
		BreakerThreshold: 1000, BreakerCooldown: 10 * time.Millisecond,
	}
}

func start(t *testing.T, opt outbox.Options) *outbox.Outbox {
	t.Helper()
	o, err := outbox.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := o.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return o
}

func stop(t *testing.T, o *outbox.Outbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// marker is plaintext no sealed blob may show on disk.
const marker = "NGUYEN-VAN-AN-MARKER"

func filing(n int, pages int, pageSize int) outbox.Filing {
	f := outbox.Filing{
		MaHoSo:        fmt.Sprintf("000.00.01.H01-260101-%04d", n),
		ProcedureCode: "1.001193",
		Body:          fmt.Appendf(nil, `{"ChuHoSo":"%s","n":%d}`, marker, n),
	}
	for i := range pages {
		data := make([]byte, pageSize)
		rand.Read(data)
		copy(data, marker)
		f.Attachments = append(f.Attachments, outbox.Attachment{Name: fmt.Sprintf("trang-%d.jpg", i+1), ContentType: "image/jpeg", Data: data})
	}
	return f
}

func enqueue(t *testing.T, o *outbox.Outbox, f outbox.Filing) outbox.Receipt {
	t.Helper()
	r, err := o.Enqueue(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func stats(t *testing.T, o *outbox.Outbox) outbox.Stats {
	t.Helper()
	s, err := o.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// onDisk returns the database and WAL bytes.
func onDisk(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	for _, n := range []string{outbox.DatabaseFile, outbox.DatabaseFile + "-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func rawDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", filepath.Join(dir, outbox.DatabaseFile)+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	f := newScripted(accept)
	tests := map[string]outbox.Options{
		"no dir":       {Key: testKey, Forwarder: f},
		"no forwarder": {StateDir: "/x", Key: testKey},
		"short key":    {StateDir: "/x", Key: testKey[:16], Forwarder: f},
	}
	for name, opt := range tests {
		if _, err := outbox.New(opt); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestDeliverInOrderAndPurge: filings arrive at the forwarder in enqueue order,
// intact, with their keys; nothing of them is readable on disk while queued; and
// once acknowledged they are gone from the database.
func TestDeliverInOrderAndPurge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gate := make(chan struct{})
	f := newScripted(func(outbox.Delivery) error { <-gate; return nil })
	o := start(t, baseOptions(dir, f))

	var want []sent
	for i := range 4 {
		fl := filing(i, i, 50_000)
		r := enqueue(t, o, fl)
		if len(r.IdempotencyKey) != 32 {
			t.Fatalf("idempotency key %q is not 128-bit hex", r.IdempotencyKey)
		}
		want = append(want, sent{ID: r.ID, Key: r.IdempotencyKey, Attempt: 1, Hash: outboxtest.ContentHash(fl), MaHoSo: fl.MaHoSo})
	}
	// The first delivery is held at the gate: everything is on disk, sealed.
	if disk := onDisk(t, dir); bytes.Contains(disk, []byte(marker)) || bytes.Contains(disk, []byte("H01-260101")) {
		t.Fatal("filing plaintext found in the database or WAL")
	}
	if s := stats(t, o); s.Pending != 4 || s.OldestAge <= 0 {
		t.Fatalf("stats while queued: %+v", s)
	}
	close(gate)
	for i := range want {
		if got := f.next(t); got != want[i] {
			t.Fatalf("delivery %d = %+v, want %+v", i, got, want[i])
		}
	}
	waitFor(t, "purge", func() bool { return stats(t, o).Pending == 0 })
	// Once the queue is empty the WAL is checkpointed and truncated: no frame of
	// a purged filing stays in it.
	waitFor(t, "WAL truncated", func() bool {
		fi, err := os.Stat(filepath.Join(dir, outbox.DatabaseFile+"-wal"))
		return err == nil && fi.Size() == 0
	})
	stop(t, o)
	db := rawDB(t, dir)
	for _, tbl := range []string{"outbox", "attachment"} {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM " + tbl).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s holds %d rows after delivery (%v)", tbl, n, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, outbox.DatabaseFile+"-wal")); err == nil && fi.Size() != 0 {
		t.Errorf("WAL not emptied after purge and stop: %d bytes", fi.Size())
	}
}

// TestNewFilingWakesSender: the sender has no poll; an idle sender waits on the
// wake-up alone, so a filing enqueued into an empty queue is delivered only if
// Enqueue wakes it.
func TestNewFilingWakesSender(t *testing.T) {
	t.Parallel()
	f := newScripted(accept)
	o := start(t, baseOptions(t.TempDir(), f))
	for i := range 3 {
		waitFor(t, "idle sender", func() bool { s := stats(t, o); return s.Pending == 0 && !s.InFlight })
		r := enqueue(t, o, filing(i, 0, 0))
		if g := f.next(t); g.ID != r.ID {
			t.Fatalf("delivered %+v, want row %d", g, r.ID)
		}
	}
}

func TestPragmasAndPermissions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := start(t, baseOptions(dir, newScripted(accept)))
	db := outbox.DBOf(o)
	tests := map[string]string{
		"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1",
		"secure_delete": "1", "auto_vacuum": "2", "busy_timeout": "5000", "user_version": "1",
		"wal_autocheckpoint": "2000", "cache_size": "-8000",
	}
	for p, want := range tests {
		var got string
		if err := db.QueryRow("PRAGMA " + p).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", p, got, want)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, outbox.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestWALStaysBoundedWhileBackendDown: the checkpoints moved off Enqueue's
// path (the side checkpointer, the backstop) must still stop the WAL from
// growing by every filing while nothing is delivered, even when filings come
// back to back.
func TestWALStaysBoundedWhileBackendDown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	parked := forwarderFunc(func(ctx context.Context, d outbox.Delivery) error { <-ctx.Done(); return ctx.Err() })
	opt := baseOptions(dir, parked)
	opt.ForwardTimeout = time.Hour
	o, err := outbox.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		o.Stop(ctx) // cuts the parked delivery off: an error by design
	}()
	const n, size = 60, 600_000
	for i := range n {
		enqueue(t, o, filing(i, 3, size/3))
	}
	fi, err := os.Stat(filepath.Join(dir, outbox.DatabaseFile+"-wal"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("WAL %d bytes after %d bytes of filings", fi.Size(), n*size)
	if fi.Size() > 16<<20 {
		t.Fatalf("WAL grew to %d bytes for %d bytes of filings: it is not being checkpointed", fi.Size(), n*size)
	}
}

func TestEnqueueValidates(t *testing.T) {
	t.Parallel()
	o := start(t, baseOptions(t.TempDir(), newScripted(accept)))
	good := filing(1, 0, 0)
	tests := map[string]func(f *outbox.Filing){
		"no MaHoSo":    func(f *outbox.Filing) { f.MaHoSo = "" },
		"no procedure": func(f *outbox.Filing) { f.ProcedureCode = "" },
		"body not JSON": func(f *outbox.Filing) {
			f.Body = []byte("{")
		},
	}
	for name, mut := range tests {
		f := good
		mut(&f)
		if _, err := o.Enqueue(context.Background(), f); !errors.Is(err, outbox.ErrInvalidFiling) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestEnqueueRefusedWhenNotRunning(t *testing.T) {
	t.Parallel()
	o, err := outbox.New(baseOptions(t.TempDir(), newScripted(accept)))
	if err != nil {
		t.Fatal(err)
	}
	var re *outbox.RefusedError
	if _, err := o.Enqueue(context.Background(), filing(1, 0, 0)); !errors.As(err, &re) || !errors.Is(err, outbox.ErrNotRunning) {
		t.Fatalf("before Start: %v", err)
	}
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop(t, o)
	if _, err := o.Enqueue(context.Background(), filing(1, 0, 0)); !errors.Is(err, outbox.ErrNotRunning) {
		t.Fatalf("after Stop: %v", err)
	}
	if h := o.Health(); h.State != daemon.StateStopped {
		t.Errorf("health after stop: %+v", h)
	}
}

// TestHeadBacksOffLaterRowsWait: while the first filing keeps failing, the ones
// behind it are not sent; when it succeeds they follow in order, and every
// attempt of it carried the same idempotency key.
func TestHeadBacksOffLaterRowsWait(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	fails := 3
	f := newScripted(func(d outbox.Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return outbox.Retryable("HTTP 503", nil)
		}
		return nil
	})
	o := start(t, baseOptions(t.TempDir(), f))
	r1 := enqueue(t, o, filing(1, 1, 1000))
	r2 := enqueue(t, o, filing(2, 0, 0))
	r3 := enqueue(t, o, filing(3, 0, 0))
	var got []sent
	for range 6 {
		got = append(got, f.next(t))
	}
	for i, g := range got[:4] {
		if g.ID != r1.ID || g.Key != r1.IdempotencyKey || g.Attempt != i+1 {
			t.Fatalf("attempt %d: %+v, want row %d key %s", i+1, g, r1.ID, r1.IdempotencyKey)
		}
	}
	if got[4].ID != r2.ID || got[5].ID != r3.ID {
		t.Fatalf("after the head: %+v %+v, want rows %d, %d", got[4], got[5], r2.ID, r3.ID)
	}
	waitFor(t, "empty", func() bool { return stats(t, o).Pending == 0 })
	if s := stats(t, o); s.LastError != "retryable: HTTP 503" {
		t.Errorf("last error %q", s.LastError)
	}
}

// TestDeadLettersDoNotBlock: a permanently rejected filing is kept as a dead
// letter, the queue moves on, the metric and health show it, and an operator's
// Retry sends it again with its original key.
func TestDeadLettersDoNotBlock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	bad := "000.00.01.H01-260101-0002"
	f := newScripted(func(d outbox.Delivery) error {
		if d.Filing.MaHoSo == bad {
			return outbox.Permanent("validation: MaTTHC unknown", errors.New("backend said: "+d.Filing.MaHoSo))
		}
		return nil
	})
	opt := baseOptions(dir, f)
	opt.Registerer = reg
	o := start(t, opt)
	r1 := enqueue(t, o, filing(1, 0, 0))
	r2 := enqueue(t, o, filing(2, 1, 100))
	r3 := enqueue(t, o, filing(3, 0, 0))
	for _, want := range []int64{r1.ID, r2.ID, r3.ID} {
		if g := f.next(t); g.ID != want {
			t.Fatalf("delivered row %d, want %d", g.ID, want)
		}
	}
	waitFor(t, "dead letter", func() bool { s := stats(t, o); return s.Pending == 0 && s.DeadLetters == 1 })
	if h := o.Health(); h.State != daemon.StateDegraded || !strings.Contains(h.Reason, "dead-lettered") {
		t.Errorf("health with a dead letter: %+v", h)
	}
	if v := counterValue(t, reg, "kioskd_outbox_forward_total", "permanent"); v != 1 {
		t.Errorf("forward_total{permanent} = %v", v)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP kioskd_outbox_dead_letters Filings kept as dead letters, waiting for an operator.
# TYPE kioskd_outbox_dead_letters gauge
kioskd_outbox_dead_letters 1
# HELP kioskd_outbox_depth Filings waiting to be forwarded (dead letters excluded).
# TYPE kioskd_outbox_depth gauge
kioskd_outbox_depth 0
# HELP kioskd_outbox_oldest_age_seconds Age of the oldest filing waiting to be forwarded; 0 when none.
# TYPE kioskd_outbox_oldest_age_seconds gauge
kioskd_outbox_oldest_age_seconds 0
`), "kioskd_outbox_dead_letters", "kioskd_outbox_depth", "kioskd_outbox_oldest_age_seconds"); err != nil {
		t.Error(err)
	}
	list, err := o.List(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != r2.ID || list[0].State != outbox.EntryDead || list[0].IdempotencyKey != r2.IdempotencyKey ||
		list[0].LastError != "permanent: validation: MaTTHC unknown" || list[0].Attachments != 1 || list[0].Bytes == 0 {
		t.Fatalf("list: %+v", list)
	}
	// Operator errors.
	if err := o.Retry(context.Background(), 999); !errors.Is(err, outbox.ErrNotFound) {
		t.Errorf("retry unknown: %v", err)
	}
	blocker := make(chan struct{})
	f.setAnswer(func(outbox.Delivery) error { <-blocker; return nil })
	r4 := enqueue(t, o, filing(4, 0, 0))
	waitFor(t, "r4 in flight", func() bool { return stats(t, o).InFlight })
	if err := o.Retry(context.Background(), r4.ID); !errors.Is(err, outbox.ErrNotDeadLetter) {
		t.Errorf("retry pending: %v", err)
	}
	close(blocker)
	if g := f.next(t); g.ID != r4.ID {
		t.Fatalf("delivered %+v, want row %d", g, r4.ID)
	}
	if err := o.Retry(context.Background(), r2.ID); err != nil {
		t.Fatal(err)
	}
	g := f.next(t)
	if g.ID != r2.ID || g.Key != r2.IdempotencyKey || g.Attempt != 1 {
		t.Fatalf("retried delivery %+v", g)
	}
	waitFor(t, "retried letter delivered", func() bool { s := stats(t, o); return s.Pending == 0 && s.DeadLetters == 0 })
	if h := o.Health(); h.State != daemon.StateOK {
		t.Errorf("health after retry: %+v", h)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{result=%q}", name, result)
	return 0
}

func TestMaxAttemptsDeadLetters(t *testing.T) {
	t.Parallel()
	f := newScripted(func(outbox.Delivery) error { return errors.New("unclassified") })
	opt := baseOptions(t.TempDir(), f)
	opt.MaxAttempts = 3
	o := start(t, opt)
	r := enqueue(t, o, filing(1, 0, 0))
	for i := 1; i <= 3; i++ {
		if g := f.next(t); g.ID != r.ID || g.Attempt != i {
			t.Fatalf("delivery %+v, want attempt %d", g, i)
		}
	}
	waitFor(t, "dead letter", func() bool { return stats(t, o).DeadLetters == 1 })
	l, err := o.List(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if l[0].Attempts != 3 || !strings.Contains(l[0].LastError, "attempts exhausted") {
		t.Errorf("entry %+v", l[0])
	}
	select {
	case g := <-f.ch:
		t.Fatalf("a dead letter was forwarded again: %+v", g)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestBreakerOpensAndRecovers: consecutive failures open the breaker (health
// degraded, no delivery during the cool-down), a probe after the cool-down that
// succeeds closes it.
func TestBreakerOpensAndRecovers(t *testing.T) {
	t.Parallel()
	const cooldown = 300 * time.Millisecond
	down := make(chan struct{})
	var calls []time.Time // when each attempt reached the backend; only the sender appends
	f := newScripted(func(outbox.Delivery) error {
		calls = append(calls, time.Now())
		select {
		case <-down:
			return nil
		default:
			return outbox.Retryable("network", nil)
		}
	})
	opt := baseOptions(t.TempDir(), f)
	opt.BreakerThreshold, opt.BreakerCooldown = 2, cooldown
	opt.BackoffBase, opt.BackoffCap = time.Microsecond, time.Microsecond
	o := start(t, opt)
	enqueue(t, o, filing(1, 0, 0))
	f.next(t)
	f.next(t)
	waitFor(t, "breaker open", func() bool { return stats(t, o).Breaker == outbox.BreakerOpen })
	if h := o.Health(); h.State != daemon.StateDegraded || !strings.Contains(h.Reason, "circuit breaker open") {
		t.Errorf("health: %+v", h)
	}
	close(down)
	g := f.next(t) // the half-open probe
	// The breaker opened after the second attempt returned, so the probe cannot
	// start sooner than the cool-down after that attempt started.
	if gap := calls[2].Sub(calls[1]); gap < cooldown {
		t.Errorf("probe %v after the failure that opened the breaker, before the %v cool-down", gap, cooldown)
	}
	if g.Attempt != 3 {
		t.Errorf("probe attempt %d", g.Attempt)
	}
	waitFor(t, "breaker closed", func() bool { s := stats(t, o); return s.Breaker == outbox.BreakerClosed && s.Pending == 0 })
	if h := o.Health(); h.State != daemon.StateOK {
		t.Errorf("health after recovery: %+v", h)
	}
}

// TestKeyAndAttemptsSurviveRestart: a filing that failed before a restart is
// sent after it with the same key and the attempt count carried on.
func TestKeyAndAttemptsSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := newScripted(func(outbox.Delivery) error { return outbox.Retryable("HTTP 502", nil) })
	opt := baseOptions(dir, f)
	opt.BackoffBase, opt.BackoffCap = time.Hour, time.Hour
	o, err := outbox.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	outbox.SetJitter(o, func(n int64) int64 { return n - 1 }) // the full hour: no second attempt
	r := enqueue(t, o, filing(1, 2, 1000))
	f.next(t)
	stop(t, o)

	f2 := newScripted(accept)
	opt2 := baseOptions(dir, f2)
	opt2.BackoffCap = time.Millisecond // a next_at beyond the cap is not honoured
	o2 := start(t, opt2)
	if g := f2.next(t); g.ID != r.ID || g.Key != r.IdempotencyKey || g.Attempt != 2 {
		t.Fatalf("after restart: %+v, want row %d key %s attempt 2", g, r.ID, r.IdempotencyKey)
	}
	waitFor(t, "empty", func() bool { return stats(t, o2).Pending == 0 })
}

// TestStopFinishesInFlight: Stop waits for the delivery in flight and purges it.
func TestStopFinishesInFlight(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	release := make(chan struct{})
	var sawCancel bool
	var mu sync.Mutex
	f := newScripted(func(d outbox.Delivery) error { <-release; return nil })
	f2 := &ctxWatcher{inner: f, cancelled: func() { mu.Lock(); sawCancel = true; mu.Unlock() }}
	o, err := outbox.New(baseOptions(dir, f2))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	enqueue(t, o, filing(1, 1, 1000))
	waitFor(t, "in flight", func() bool { return stats(t, o).InFlight })
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- o.Stop(ctx)
	}()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) with a delivery in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if sawCancel {
		t.Error("the in-flight delivery's context was cancelled during a drain with time left")
	}
	var n int
	if err := rawDB(t, dir).QueryRow("SELECT COUNT(*) FROM outbox").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows after draining the delivery (%v)", n, err)
	}
}

type ctxWatcher struct {
	inner     outbox.Forwarder
	cancelled func()
}

func (c *ctxWatcher) Forward(ctx context.Context, d outbox.Delivery) error {
	err := c.inner.Forward(ctx, d)
	if ctx.Err() != nil {
		c.cancelled()
	}
	return err
}

// TestStopDeadlineKeepsFiling: a delivery that outlasts the drain deadline is
// cancelled and stays queued.
func TestStopDeadlineKeepsFiling(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := newScripted(accept)
	blocking := forwarderFunc(func(ctx context.Context, d outbox.Delivery) error {
		<-ctx.Done()
		return ctx.Err()
	})
	o, err := outbox.New(baseOptions(dir, blocking))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := enqueue(t, o, filing(1, 0, 0))
	waitFor(t, "in flight", func() bool { return stats(t, o).InFlight })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := o.Stop(ctx); err == nil || !strings.Contains(err.Error(), "stays queued") {
		t.Fatalf("Stop past the deadline: %v", err)
	}
	o2 := start(t, baseOptions(dir, f))
	if g := f.next(t); g.Key != r.IdempotencyKey || g.Attempt != 2 {
		t.Fatalf("after restart: %+v", g)
	}
	waitFor(t, "empty", func() bool { return stats(t, o2).Pending == 0 })
}

type forwarderFunc func(ctx context.Context, d outbox.Delivery) error

func (f forwarderFunc) Forward(ctx context.Context, d outbox.Delivery) error { return f(ctx, d) }

// TestSwappedBlobsAreNotForwarded: attachment blobs moved between rows at rest
// fail authentication; the rows become dead letters and nothing is forwarded.
func TestSwappedBlobsAreNotForwarded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hold := newScripted(func(outbox.Delivery) error { return outbox.Retryable("down", nil) })
	opt := baseOptions(dir, hold)
	opt.BackoffBase, opt.BackoffCap = time.Hour, time.Hour
	o, err := outbox.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	outbox.SetJitter(o, func(n int64) int64 { return n - 1 })
	r1 := enqueue(t, o, filing(1, 1, 100))
	r2 := enqueue(t, o, filing(2, 1, 100))
	hold.next(t)
	stop(t, o)

	db := rawDB(t, dir)
	for _, q := range [][2]int64{{r1.ID, -1}, {r2.ID, r1.ID}, {-1, r2.ID}} {
		if _, err := db.Exec(`UPDATE attachment SET outbox_id = ? WHERE outbox_id = ?`, q[1], q[0]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`UPDATE outbox SET next_at = 0`); err != nil {
		t.Fatal(err)
	}
	f := newScripted(accept)
	o2 := start(t, baseOptions(dir, f))
	waitFor(t, "both dead-lettered", func() bool { return stats(t, o2).DeadLetters == 2 })
	if s := stats(t, o2); s.LastError != "permanent: stored data failed authentication" {
		t.Errorf("last error %q", s.LastError)
	}
	if len(f.log) != 0 {
		t.Fatalf("swapped filings were forwarded: %+v", f.log)
	}
}

func TestWrongKeyFailsStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := start(t, baseOptions(dir, newScripted(accept)))
	stop(t, o)
	opt := baseOptions(dir, newScripted(accept))
	opt.Key = bytes.Repeat([]byte{8}, 32)
	o2, err := outbox.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := o2.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "key does not match") {
		t.Fatalf("start with another key: %v", err)
	}
	if h := o2.Health(); h.State != daemon.StateFailed {
		t.Errorf("health: %+v", h)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := start(t, baseOptions(dir, newScripted(accept)))
	stop(t, o)
	if _, err := rawDB(t, dir).Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	o2, err := outbox.New(baseOptions(dir, newScripted(accept)))
	if err != nil {
		t.Fatal(err)
	}
	if err := o2.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("start on a newer schema: %v", err)
	}
}

func TestUnopenableDatabaseFailsHealth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A directory where the database file should be.
	if err := os.Mkdir(filepath.Join(dir, outbox.DatabaseFile), 0o700); err != nil {
		t.Fatal(err)
	}
	o, err := outbox.New(baseOptions(dir, newScripted(accept)))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Start(context.Background()); err == nil {
		t.Fatal("started on a directory")
	}
	if h := o.Health(); h.State != daemon.StateFailed {
		t.Errorf("health: %+v", h)
	}
}

// TestLogsCarryNoPersonalData runs a filing through success, retry and dead
// letter with the daemon's logger and checks the log holds ids, never content.
func TestLogsCarryNoPersonalData(t *testing.T) {
	t.Parallel()
	var buf kiosktest.SyncBuffer
	n := 0
	f := newScripted(func(d outbox.Delivery) error {
		n++
		switch n {
		case 1:
			return outbox.Retryable("HTTP 503", errors.New(string(d.Filing.Body)))
		case 2:
			return errors.New("backend echoed " + d.Filing.MaHoSo)
		case 3:
			return nil
		}
		return outbox.Permanent("validation", errors.New(string(d.Filing.Body)))
	})
	opt := baseOptions(t.TempDir(), f)
	opt.Log = logging.New(&buf, nil)
	o := start(t, opt)
	r := enqueue(t, o, filing(1, 1, 100))
	enqueue(t, o, filing(2, 0, 0))
	waitFor(t, "done", func() bool { s := stats(t, o); return s.Pending == 0 && s.DeadLetters == 1 })
	out := buf.String()
	for _, bad := range []string{marker, "H01-260101", "trang-1"} {
		if strings.Contains(out, bad) {
			t.Errorf("log holds %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, r.IdempotencyKey) || !strings.Contains(out, `"outbox_id":1`) {
		t.Errorf("log lacks the ids it should carry:\n%s", out)
	}
}

func TestSubsystemInterface(t *testing.T) {
	t.Parallel()
	var _ daemon.Subsystem = (*outbox.Outbox)(nil)
	o, err := outbox.New(baseOptions(t.TempDir(), newScripted(accept)))
	if err != nil {
		t.Fatal(err)
	}
	if o.Name() != "outbox" || o.Health().State != daemon.StateStarting {
		t.Fatalf("before start: %s %+v", o.Name(), o.Health())
	}
	reg := prometheus.NewRegistry()
	opt := baseOptions(t.TempDir(), newScripted(accept))
	opt.Registerer = reg
	if _, err := outbox.New(opt); err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.New(opt); err == nil {
		t.Error("a second outbox registered the same metrics")
	}
}

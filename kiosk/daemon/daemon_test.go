package daemon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/logging"
)

// recorder is a Notifier that keeps every state sent.
type recorder struct {
	mu     sync.Mutex
	states []string
	ready  chan struct{}
	once   sync.Once
}

func newRecorder() *recorder { return &recorder{ready: make(chan struct{})} }

func (r *recorder) Notify(s string) error {
	r.mu.Lock()
	r.states = append(r.states, s)
	r.mu.Unlock()
	if strings.HasPrefix(s, "READY=1") {
		r.once.Do(func() { close(r.ready) })
	}
	return nil
}

func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.states, "|")
}

// journal records the order of starts and stops across fake subsystems.
type journal struct {
	mu sync.Mutex
	ev []string
}

func (j *journal) add(s string) { j.mu.Lock(); j.ev = append(j.ev, s); j.mu.Unlock() }
func (j *journal) String() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return strings.Join(j.ev, ",")
}

type fakeSubsystem struct {
	name     string
	j        *journal
	startErr error
	// job simulates in-flight work (a print job) that Stop must wait for.
	jobTime  time.Duration
	mu       sync.Mutex
	state    State
	reloaded *config.Config
}

func (f *fakeSubsystem) Name() string { return f.name }
func (f *fakeSubsystem) Start(context.Context) error {
	f.j.add("start:" + f.name)
	if f.startErr != nil {
		return f.startErr
	}
	f.mu.Lock()
	f.state = StateOK
	f.mu.Unlock()
	return nil
}
func (f *fakeSubsystem) Stop(ctx context.Context) error {
	select {
	case <-time.After(f.jobTime):
		f.j.add("stop:" + f.name)
		f.mu.Lock()
		f.state = StateStopped
		f.mu.Unlock()
		return nil
	case <-ctx.Done():
		f.j.add("abandoned:" + f.name)
		return ctx.Err()
	}
}
func (f *fakeSubsystem) Health() Health {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state == "" {
		return Health{State: StateStarting}
	}
	return Health{State: f.state}
}
func (f *fakeSubsystem) Reload(_ context.Context, c *config.Config) error {
	f.mu.Lock()
	f.reloaded = c
	f.mu.Unlock()
	return nil
}

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	c, err := config.Parse("test.yaml", []byte("kiosk:\n  id: T1\nsite:\n  code: X\nmetrics:\n  listen: 127.0.0.1:0\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Unix socket paths are limited to 108 bytes; t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "kd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c.Control.Socket = filepath.Join(dir, "c.sock")
	c.StateDir = dir
	return c
}

type runResult struct {
	err error
	log string
}

func start(t *testing.T, opt Options) (chan os.Signal, *recorder, <-chan runResult) {
	t.Helper()
	sigs := make(chan os.Signal, 1)
	rec := newRecorder()
	var buf safeBuffer
	opt.Signals, opt.Notifier = sigs, rec
	opt.Log = logging.New(&buf, nil)
	if opt.Config == nil {
		opt.Config = testConfig(t)
	}
	done := make(chan runResult, 1)
	go func() {
		err := Run(context.Background(), opt)
		done <- runResult{err, buf.String()}
	}()
	return sigs, rec, done
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *safeBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func waitReady(t *testing.T, rec *recorder, done <-chan runResult) {
	t.Helper()
	select {
	case <-rec.ready:
	case r := <-done:
		t.Fatalf("daemon exited before READY: %v\n%s", r.err, r.log)
	case <-time.After(5 * time.Second):
		t.Fatal("no READY=1 within 5s")
	}
}

func TestReadyAfterAllSubsystemsThenDrainInReverse(t *testing.T) {
	t.Parallel()
	j := &journal{}
	a := &fakeSubsystem{name: "printer", j: j, jobTime: 300 * time.Millisecond}
	b := &fakeSubsystem{name: "ui", j: j}
	cfg := testConfig(t)
	sigs, rec, done := start(t, Options{Config: cfg, Subsystems: []Subsystem{a, b}})
	waitReady(t, rec, done)
	if got := j.String(); got != "start:printer,start:ui" {
		t.Fatalf("READY before all subsystems started: %s", got)
	}

	st, err := control.NewClient(cfg.Control.Socket).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !st.Ready || st.KioskID != "T1" || len(st.Subsystems) != 2 || st.Subsystems[0].State != "ok" {
		t.Errorf("status = %+v", st)
	}
	if fi, err := os.Stat(cfg.Control.Socket); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("control socket mode = %v, %v; want 0660", fi.Mode().Perm(), err)
	}

	t0 := time.Now()
	sigs <- syscall.SIGTERM
	r := <-done
	if r.err != nil {
		t.Fatalf("drain: %v\n%s", r.err, r.log)
	}
	// The printer's in-flight job finished rather than being cut off.
	if got := j.String(); got != "start:printer,start:ui,stop:ui,stop:printer" {
		t.Errorf("order = %s", got)
	}
	if el := time.Since(t0); el < 300*time.Millisecond {
		t.Errorf("drain returned after %s, before the job finished", el)
	}
	if !strings.Contains(rec.all(), "STOPPING=1") {
		t.Errorf("no STOPPING=1: %s", rec.all())
	}
	if _, err := os.Stat(cfg.Control.Socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket left behind: %v", err)
	}
}

func TestDrainIsBounded(t *testing.T) {
	t.Parallel()
	j := &journal{}
	stuck := &fakeSubsystem{name: "outbox", j: j, jobTime: time.Hour}
	sigs, rec, done := start(t, Options{Subsystems: []Subsystem{stuck}, DrainTimeout: 200 * time.Millisecond})
	waitReady(t, rec, done)
	t0 := time.Now()
	sigs <- syscall.SIGINT
	r := <-done
	if r.err == nil || !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("want a deadline error, got %v", r.err)
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("drain took %s", el)
	}
	if !strings.Contains(j.String(), "abandoned:outbox") {
		t.Errorf("journal %s", j)
	}
}

func TestStartFailureSendsNoReady(t *testing.T) {
	t.Parallel()
	j := &journal{}
	a := &fakeSubsystem{name: "a", j: j}
	b := &fakeSubsystem{name: "b", j: j, startErr: errors.New("no such device")}
	c := &fakeSubsystem{name: "c", j: j}
	_, rec, done := start(t, Options{Subsystems: []Subsystem{a, b, c}})
	r := <-done
	if r.err == nil || !strings.Contains(r.err.Error(), "start b: no such device") {
		t.Fatalf("err = %v", r.err)
	}
	if strings.Contains(rec.all(), "READY=1") {
		t.Error("READY=1 sent although a subsystem failed")
	}
	// What did start is stopped again; what never started is not touched.
	if got := j.String(); got != "start:a,start:b,stop:a" {
		t.Errorf("journal %s", got)
	}
}

func TestReloadKeepsOldConfigOnError(t *testing.T) {
	t.Parallel()
	j := &journal{}
	sub := &fakeSubsystem{name: "x", j: j}
	cfg := testConfig(t)
	var mu sync.Mutex
	next := "kiosk:\n  id: T2\nsite:\n  code: X\n"
	load := func() (*config.Config, error) {
		mu.Lock()
		defer mu.Unlock()
		return config.Parse("test.yaml", []byte(next))
	}
	sigs, rec, done := start(t, Options{Config: cfg, Subsystems: []Subsystem{sub}, LoadConfig: load})
	waitReady(t, rec, done)
	cl := control.NewClient(cfg.Control.Socket)

	sigs <- syscall.SIGHUP
	waitFor(t, func() bool { st, _ := cl.Status(context.Background()); return st != nil && st.KioskID == "T2" })
	sub.mu.Lock()
	if sub.reloaded == nil || sub.reloaded.Kiosk.ID != "T2" {
		t.Error("subsystem did not get the new config")
	}
	sub.mu.Unlock()
	if !strings.Contains(rec.all(), "RELOADING=1") {
		t.Errorf("no RELOADING=1: %s", rec.all())
	}

	mu.Lock()
	next = "kiosk:\n  id: T3\nsite:\n  kind: moon\n"
	mu.Unlock()
	sigs <- syscall.SIGHUP
	time.Sleep(200 * time.Millisecond)
	st, err := cl.Status(context.Background())
	if err != nil || st.KioskID != "T2" || !st.Ready {
		t.Errorf("after a bad reload: %+v, %v", st, err)
	}
	sigs <- syscall.SIGTERM
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.log, "configuration reload rejected") || !strings.Contains(r.log, `site.kind: \"moon\"`) {
		t.Errorf("log does not explain the rejected reload:\n%s", r.log)
	}
}

func TestSecondDaemonOnSameSocketRefused(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	sigs, rec, done := start(t, Options{Config: cfg})
	waitReady(t, rec, done)
	_, _, done2 := start(t, Options{Config: cfg})
	r := <-done2
	if r.err == nil || !strings.Contains(r.err.Error(), "another kioskd is running") {
		t.Errorf("second daemon: %v", r.err)
	}
	sigs <- syscall.SIGTERM
	<-done
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 3s")
}

func TestMetricsAndProbes(t *testing.T) {
	t.Parallel()
	j := &journal{}
	sub := &fakeSubsystem{name: "printer", j: j}
	addr := make(chan string, 1)
	sigs, rec, done := start(t, Options{Subsystems: []Subsystem{sub}, Started: func(_, m string) { addr <- m }})
	waitReady(t, rec, done)
	base := "http://" + <-addr
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz %d %q", code, body)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz %d", code)
	}
	code, body := get("/metrics")
	for _, want := range []string{"kioskd_build_info{", `kioskd_subsystem_health{state="ok",subsystem="printer"} 1`, "go_goroutines"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	sub.mu.Lock()
	sub.state = StateFailed
	sub.mu.Unlock()
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "printer failed") {
		t.Errorf("/readyz with a failed subsystem: %d %q", code, body)
	}
	sigs <- syscall.SIGTERM
	<-done
}

// ctxSubsystem checks that the context Start receives outlives Start.
type ctxSubsystem struct {
	fakeSubsystem
	ctx context.Context
}

func (c *ctxSubsystem) Start(ctx context.Context) error {
	c.ctx = ctx
	return c.fakeSubsystem.Start(ctx)
}

func TestStartContextLivesUntilDrain(t *testing.T) {
	t.Parallel()
	sub := &ctxSubsystem{fakeSubsystem: fakeSubsystem{name: "printer", j: &journal{}}}
	sigs, rec, done := start(t, Options{Subsystems: []Subsystem{sub}})
	waitReady(t, rec, done)
	time.Sleep(50 * time.Millisecond)
	if err := sub.ctx.Err(); err != nil {
		t.Fatalf("the context given to Start ended while the daemon runs: %v", err)
	}
	sigs <- syscall.SIGTERM
	<-done
	if sub.ctx.Err() == nil {
		t.Error("the context given to Start outlived the daemon")
	}
}

// slowStarter never finishes starting.
type slowStarter struct{ fakeSubsystem }

func (s *slowStarter) Start(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

func TestStartTimeout(t *testing.T) {
	t.Parallel()
	_, rec, done := start(t, Options{Subsystems: []Subsystem{&slowStarter{fakeSubsystem{name: "scanner", j: &journal{}}}}, StartTimeout: 100 * time.Millisecond})
	r := <-done
	if r.err == nil || !strings.Contains(r.err.Error(), "start scanner: did not start within 100ms") {
		t.Errorf("err = %v", r.err)
	}
	if strings.Contains(rec.all(), "READY=1") {
		t.Error("READY=1 although a subsystem never started")
	}
}

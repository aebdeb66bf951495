package printer

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/printer/escpos"
	"github.com/vnkiosk/kiosk/devices/printer/internal/ptytest"
	"github.com/vnkiosk/kiosk/devices/printer/layout"
	"github.com/vnkiosk/kiosk/devices/printer/printersim"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

func TestDeviceStatusPerCondition(t *testing.T) {
	t.Parallel()
	sim, uri := startSim(t, printersim.Options{})
	dev, err := Open(context.Background(), uri)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	for _, c := range printersim.Conditions {
		sim.SetCondition(c)
		st, err := dev.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st != c.Status() {
			t.Errorf("%s: %v", c, st)
		}
	}
}

// A printer that never answers DLE EOT is reported, not waited on forever.
func TestDeviceStatusTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			buf := make([]byte, 64)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}
	}()
	dev, err := Open(context.Background(), "tcp://"+ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	dev.StatusTimeout = 100 * time.Millisecond
	if _, err := dev.Status(context.Background()); !errors.Is(err, ErrNoAnswer) {
		t.Errorf("silent printer: %v", err)
	}
}

func TestPrintsOnceAndEmptiesTheSpool(t *testing.T) {
	t.Parallel()
	sim, uri := startSim(t, printersim.Options{})
	dir := t.TempDir()
	p := newPrinter(t, Options{URI: uri, SpoolDir: dir})
	ev, cancel := p.Events()
	defer cancel()
	id, err := p.Submit(context.Background(), ticket(t, "Nguyễn Thị Phượng", "000.00.12.H29-260115-0007"))
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != idLen {
		t.Errorf("job ID %q", id)
	}
	for _, k := range []EventKind{EventJobQueued, EventJobPrinting, EventJobPrinted} {
		if e := waitEvent(t, ev, k, 5*time.Second); e.JobID != id {
			t.Errorf("%s for job %q, want %q", k, e.JobID, id)
		}
	}
	if got := sim.PageCount(); got != 1 {
		t.Errorf("%d pages", got)
	}
	if got := pageQR(t, sim.Pages()[0]); got != "000.00.12.H29-260115-0007" {
		t.Errorf("QR %q", got)
	}
	if left := spooled(t, dir); len(left) != 0 {
		t.Errorf("spool not emptied: %v", left)
	}
	if h := p.Health(); h.State != daemon.StateOK {
		t.Errorf("health %+v", h)
	}
}

// The paper runs out in the middle of a ticket: the job stalls, the queue
// reports it, and once paper is loaded the ticket completes — one page, not a
// reprint.
func TestPaperOutMidJobPrintsExactlyOnce(t *testing.T) {
	t.Parallel()
	sim, uri := startSim(t, printersim.Options{RollDots: 300})
	dir := t.TempDir()
	p := newPrinter(t, Options{URI: uri, SpoolDir: dir})
	ev, cancel := p.Events()
	defer cancel()
	id, err := p.Submit(context.Background(), ticket(t, "Trần Văn Ượng", "MAHOSO-PAPER-OUT"))
	if err != nil {
		t.Fatal(err)
	}
	if e := waitEvent(t, ev, EventJobStalled, 5*time.Second); e.JobID != id || e.Notice != NoticeStalled {
		t.Errorf("stall event %+v", e)
	}
	if sim.Condition() != printersim.PaperEnd {
		t.Fatalf("simulator condition %s", sim.Condition())
	}
	h := p.Health()
	if h.State != daemon.StateDegraded || !strings.Contains(h.Reason, "middle of a ticket") || !strings.Contains(h.Reason, "1 ticket(s) waiting") {
		t.Errorf("health while stalled: %+v", h)
	}
	if sim.PageCount() != 0 || len(spooled(t, dir)) != 1 {
		t.Fatal("job finished or left the spool without paper")
	}
	time.Sleep(300 * time.Millisecond) // several poll intervals of waiting
	sim.SetRoll(0)
	sim.SetCondition(printersim.OK)
	if e := waitEvent(t, ev, EventJobPrinted, 5*time.Second); e.JobID != id {
		t.Errorf("printed %q", e.JobID)
	}
	time.Sleep(300 * time.Millisecond) // time for a duplicate to appear
	if got := sim.PageCount(); got != 1 {
		t.Fatalf("%d pages after paper-in, want exactly 1", got)
	}
	if got := pageQR(t, sim.Pages()[0]); got != "MAHOSO-PAPER-OUT" {
		t.Errorf("QR %q", got)
	}
	if len(spooled(t, dir)) != 0 {
		t.Error("spool not emptied")
	}
}

// Out of paper before the job: nothing is sent, health says why, and the
// job prints when paper is loaded.
func TestPaperEndBeforeJobWaits(t *testing.T) {
	t.Parallel()
	sim, uri := startSim(t, printersim.Options{Condition: printersim.PaperEnd})
	p := newPrinter(t, Options{URI: uri})
	ev, cancel := p.Events()
	defer cancel()
	waitFor(t, "paper-end health", 5*time.Second, func() bool { return p.Health().Reason == "paper end" })
	id, err := p.Submit(context.Background(), ticket(t, "Lê Thị Ẩn", "MAHOSO-WAIT"))
	if err != nil {
		t.Fatal(err)
	}
	if e := waitEvent(t, ev, EventJobQueued, time.Second); e.Notice != NoticeQueued {
		t.Errorf("queued while out of paper, notice %+v", e.Notice)
	}
	time.Sleep(200 * time.Millisecond)
	if h := p.Health(); h.State != daemon.StateDegraded || h.Reason != "paper end; 1 ticket(s) waiting" {
		t.Errorf("health %+v", h)
	}
	if sim.PageCount() != 0 {
		t.Fatal("printed without paper")
	}
	sim.SetCondition(printersim.OK)
	if e := waitEvent(t, ev, EventJobPrinted, 5*time.Second); e.JobID != id {
		t.Errorf("printed %q", e.JobID)
	}
	time.Sleep(100 * time.Millisecond)
	if n := sim.PageCount(); n != 1 {
		t.Errorf("%d pages", n)
	}
}

func TestStatusEventsAndHealth(t *testing.T) {
	t.Parallel()
	sim, uri := startSim(t, printersim.Options{})
	p := newPrinter(t, Options{URI: uri})
	ev, cancel := p.Events()
	defer cancel()
	waitFor(t, "ok", 5*time.Second, func() bool { return p.Health().State == daemon.StateOK })
	for len(ev) > 0 {
		<-ev // the first status, which may have come before or after subscribing
	}
	tests := []struct {
		cond   printersim.Condition
		state  daemon.State
		reason string
		notice Notice
	}{
		{printersim.NearEnd, daemon.StateDegraded, "paper near end", NoticePaperNearEnd},
		{printersim.CoverOpen, daemon.StateDegraded, "cover open", NoticeCoverOpen},
		{printersim.CutterError, daemon.StateDegraded, "cutter error", NoticeCutterError},
		{printersim.PaperEnd, daemon.StateDegraded, "paper end", NoticePaperEnd},
		{printersim.OK, daemon.StateOK, "", Notice{}},
	}
	for _, tt := range tests {
		sim.SetCondition(tt.cond)
		e := waitEvent(t, ev, EventStatus, 5*time.Second)
		if e.Status != tt.cond.Status() || e.Notice != tt.notice || e.Reason != tt.reason {
			t.Errorf("%s: event %+v", tt.cond, e)
		}
		if h := p.Health(); h.State != tt.state || h.Reason != tt.reason {
			t.Errorf("%s: health %+v", tt.cond, h)
		}
	}
}

// A job spooled by one instance (printer unreachable) prints after a new
// instance starts with the same spool and key.
func TestSpooledJobSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir, key := t.TempDir(), newKey(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "tcp://" + ln.Addr().String()
	ln.Close() // nothing listens there now

	first, err := New(Options{URI: dead, WidthMM: 58, SpoolDir: dir, SpoolKey: key, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	id, err := first.Submit(context.Background(), ticket(t, "Phạm Văn Đức", "MAHOSO-RESTART"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "absent health", 5*time.Second, func() bool { return first.Health().State == daemon.StateAbsent })
	if h := first.Health(); !strings.Contains(h.Reason, "not reachable at "+dead) {
		t.Errorf("health %+v", h)
	}
	if err := first.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if files := spooled(t, dir); len(files) != 1 || filepath.Base(files[0]) != id+jobExt {
		t.Fatalf("spool after stop: %v", files)
	}

	sim, uri := startSim(t, printersim.Options{Width: 384})
	second := newPrinter(t, Options{URI: uri, WidthMM: 58, SpoolDir: dir, SpoolKey: key})
	waitPages(t, sim, 1)
	waitFor(t, "spool emptied", 5*time.Second, func() bool { return len(spooled(t, dir)) == 0 })
	if got := pageQR(t, sim.Pages()[0]); got != "MAHOSO-RESTART" {
		t.Errorf("QR %q", got)
	}
	if second.QueueLength() != 0 {
		t.Errorf("queue %d", second.QueueLength())
	}
}

// SIGTERM drain: the ticket being printed completes, the queued one stays in
// the spool.
func TestStopFinishesCurrentJobKeepsQueued(t *testing.T) {
	t.Parallel()
	sim, uri := startSim(t, printersim.Options{RollDots: 300})
	dir := t.TempDir()
	p := newPrinter(t, Options{URI: uri, SpoolDir: dir})
	ev, cancel := p.Events()
	defer cancel()
	first, _ := p.Submit(context.Background(), ticket(t, "A", "MAHOSO-1"))
	second, _ := p.Submit(context.Background(), ticket(t, "B", "MAHOSO-2"))
	waitEvent(t, ev, EventJobStalled, 5*time.Second)

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- p.Stop(ctx)
	}()
	time.Sleep(100 * time.Millisecond)
	if p.Health().State != daemon.StateStopped {
		t.Errorf("health while draining %+v", p.Health())
	}
	sim.SetRoll(0)
	sim.SetCondition(printersim.OK)
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if e := waitEvent(t, ev, EventJobPrinted, time.Second); e.JobID != first {
		t.Errorf("printed %q", e.JobID)
	}
	time.Sleep(100 * time.Millisecond)
	if n := sim.PageCount(); n != 1 {
		t.Errorf("%d pages, want only the one in progress", n)
	}
	if files := spooled(t, dir); len(files) != 1 || filepath.Base(files[0]) != second+jobExt {
		t.Errorf("spool %v, want the queued job %s", files, second)
	}
	if _, err := p.Submit(context.Background(), ticket(t, "C", "X")); !errors.Is(err, ErrStopped) {
		t.Errorf("Submit after Stop: %v", err)
	}
}

// A drain that runs out of time leaves the stalled job spooled.
func TestStopDeadlineLeavesJobSpooled(t *testing.T) {
	t.Parallel()
	_, uri := startSim(t, printersim.Options{RollDots: 300})
	dir := t.TempDir()
	p := newPrinter(t, Options{URI: uri, SpoolDir: dir})
	ev, cancel := p.Events()
	defer cancel()
	p.Submit(context.Background(), ticket(t, "A", "MAHOSO-1"))
	waitEvent(t, ev, EventJobStalled, 5*time.Second)
	ctx, cancelStop := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelStop()
	err := p.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "stays spooled") {
		t.Errorf("Stop: %v", err)
	}
	if len(spooled(t, dir)) != 1 {
		t.Error("stalled job not left in the spool")
	}
}

func TestPrinterComesBack(t *testing.T) {
	t.Parallel()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	p := newPrinter(t, Options{URI: "tcp://" + addr})
	ev, cancel := p.Events()
	defer cancel()
	e := waitEvent(t, ev, EventDisconnected, 5*time.Second)
	if e.Notice != NoticeUnreachable {
		t.Errorf("notice %+v", e.Notice)
	}
	id, err := p.Submit(context.Background(), ticket(t, "Đỗ Thị Ếch", "MAHOSO-BACK"))
	if err != nil {
		t.Fatal(err)
	}
	sim, _ := startSimAt(t, addr, printersim.Options{})
	waitEvent(t, ev, EventConnected, 10*time.Second)
	if e := waitEvent(t, ev, EventJobPrinted, 5*time.Second); e.JobID != id {
		t.Errorf("printed %q", e.JobID)
	}
	if sim.PageCount() != 1 {
		t.Errorf("%d pages", sim.PageCount())
	}
}

// A ticket that waited past JobTTL is dropped, not printed to an empty room.
func TestExpiredJobIsDropped(t *testing.T) {
	t.Parallel()
	sim, uri := startSim(t, printersim.Options{Condition: printersim.PaperEnd})
	dir := t.TempDir()
	p := newPrinter(t, Options{URI: uri, SpoolDir: dir, JobTTL: 100 * time.Millisecond})
	ev, cancel := p.Events()
	defer cancel()
	id, _ := p.Submit(context.Background(), ticket(t, "A", "MAHOSO-OLD"))
	time.Sleep(200 * time.Millisecond)
	sim.SetCondition(printersim.OK)
	if e := waitEvent(t, ev, EventJobDropped, 5*time.Second); e.JobID != id || !strings.Contains(e.Reason, "expired") {
		t.Errorf("dropped %+v", e)
	}
	time.Sleep(100 * time.Millisecond)
	if sim.PageCount() != 0 || len(spooled(t, dir)) != 0 {
		t.Errorf("%d pages, spool %v", sim.PageCount(), spooled(t, dir))
	}
}

// A spool file sealed with another key (or corrupted) is dropped, and the
// jobs behind it still print.
func TestUnreadableSpoolFileIsDropped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old, _ := openSpool(dir, newKey(t))
	badID := newJobID(time.Now().Add(-time.Minute))
	if err := old.write(badID, []byte("\x1b@old")); err != nil {
		t.Fatal(err)
	}
	sim, uri := startSim(t, printersim.Options{Condition: printersim.PaperEnd})
	p := newPrinter(t, Options{URI: uri, SpoolDir: dir})
	ev, cancel := p.Events()
	defer cancel()
	good, _ := p.Submit(context.Background(), ticket(t, "A", "MAHOSO-GOOD"))
	sim.SetCondition(printersim.OK)
	if e := waitEvent(t, ev, EventJobDropped, 5*time.Second); e.JobID != badID {
		t.Errorf("dropped %+v", e)
	}
	if e := waitEvent(t, ev, EventJobPrinted, 5*time.Second); e.JobID != good {
		t.Errorf("printed %q", e.JobID)
	}
	if sim.PageCount() != 1 || len(spooled(t, dir)) != 0 {
		t.Errorf("%d pages, spool %v", sim.PageCount(), spooled(t, dir))
	}
}

// The usb: transport opens a character device by path, as it opens
// /dev/usb/lp0. Here the device is a pty slave with the simulator on the
// master. This proves the path handling, pollable non-blocking I/O with write
// deadlines, status reads and printing over a file descriptor; it does not
// prove usblp's own behaviour (ENODEV on unplug, printers without a back
// channel), which needs the hardware.
func TestUSBTransportOverPTY(t *testing.T) {
	t.Parallel()
	master, slave := ptytest.Open(t)
	sim, err := printersim.New(printersim.Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancelSim := context.WithCancel(context.Background())
	simDone := make(chan struct{})
	go func() {
		defer close(simDone)
		// While no one has the slave open the master reads EIO: the host
		// has not opened the device yet, or closed it. The printer stays on.
		for ctx.Err() == nil {
			_ = sim.ServeConn(ctx, struct{ io.ReadWriter }{master})
			time.Sleep(10 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancelSim(); master.Close(); <-simDone })

	p := newPrinter(t, Options{URI: "usb:" + slave})
	ev, cancel := p.Events()
	defer cancel()
	id, err := p.Submit(context.Background(), ticket(t, "Vũ Thị Ửng", "MAHOSO-USB"))
	if err != nil {
		t.Fatal(err)
	}
	if e := waitEvent(t, ev, EventJobPrinted, 5*time.Second); e.JobID != id {
		t.Errorf("printed %q", e.JobID)
	}
	if got := pageQR(t, sim.Pages()[0]); got != "MAHOSO-USB" {
		t.Errorf("QR %q", got)
	}
}

func TestNewAndSubmitErrors(t *testing.T) {
	t.Parallel()
	dir, key := t.TempDir(), newKey(t)
	bad := []Options{
		{URI: "tcp://127.0.0.1:9100", WidthMM: 57, SpoolDir: dir, SpoolKey: key},
		{URI: "lpt1", WidthMM: 80, SpoolDir: dir, SpoolKey: key},
		{URI: "tcp://127.0.0.1:9100", WidthMM: 80, SpoolDir: dir, SpoolKey: key[:16]},
		{URI: "tcp://127.0.0.1:9100", WidthMM: 80, SpoolKey: key},
	}
	for _, o := range bad {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	none, err := New(Options{WidthMM: 80})
	if err != nil {
		t.Fatal(err)
	}
	none.Start(context.Background())
	if h := none.Health(); h.State != daemon.StateAbsent || !strings.Contains(h.Reason, "no printer configured") {
		t.Errorf("unconfigured health %+v", h)
	}
	if _, err := none.Submit(context.Background(), layout.Page{}); !errors.Is(err, ErrNoPrinter) {
		t.Errorf("Submit without printer: %v", err)
	}
	if err := none.Stop(context.Background()); err != nil {
		t.Errorf("Stop: %v", err)
	}

	p, err := New(Options{URI: "tcp://127.0.0.1:1", WidthMM: 80, SpoolDir: t.TempDir(), SpoolKey: key, MaxQueued: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Submit(context.Background(), ticket(t, "A", "X")); !errors.Is(err, ErrNotStarted) {
		t.Errorf("before Start: %v", err)
	}
	if h := p.Health(); h.State != daemon.StateStarting {
		t.Errorf("before Start: %+v", h)
	}
	p.Start(context.Background())
	defer p.Stop(context.Background())
	if _, err := p.Submit(context.Background(), layout.Page{}); !errors.Is(err, layout.ErrEmptyPage) {
		t.Errorf("empty page: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Submit(ctx, ticket(t, "A", "X")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	for range 2 {
		if _, err := p.Submit(context.Background(), ticket(t, "A", "X")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Submit(context.Background(), ticket(t, "A", "X")); !errors.Is(err, ErrQueueFull) {
		t.Errorf("third job: %v", err)
	}
}

func TestStatusNotice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		st   escpos.Status
		want Notice
	}{
		{escpos.Status{}, Notice{}},
		{escpos.Status{PaperNearEnd: true}, NoticePaperNearEnd},
		{printersim.PaperEnd.Status(), NoticePaperEnd},
		{printersim.CoverOpen.Status(), NoticeCoverOpen},
		{printersim.CutterError.Status(), NoticeCutterError},
		{escpos.Status{Offline: true, ErrorOccurred: true, Unrecoverable: true}, NoticeFault},
		{escpos.Status{Offline: true}, NoticeOffline},
	}
	for _, tt := range tests {
		if got := StatusNotice(tt.st); got != tt.want {
			t.Errorf("%v: %+v", tt.st, got)
		}
		if n := StatusNotice(tt.st); !n.IsZero() && (n.VI == "" || n.EN == "" || n.VI == n.EN) {
			t.Errorf("%v: notice not in both languages: %+v", tt.st, n)
		}
	}
}

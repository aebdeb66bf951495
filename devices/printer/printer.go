// Package printer owns the kiosk's receipt printer: the driver for ESC/POS
// printers on TCP port 9100 or /dev/usb/lp* (Device), and the daemon subsystem
// (Printer) that renders pages, keeps them in an encrypted on-disk queue, polls
// the printer's status into events and health, and prints each ticket once it
// can: a ticket waits out a paper-end or open cover, survives a daemon
// restart, and is deleted only after the printer has processed every byte and
// reports no error. Rendering lives in layout and raster, the byte protocol in
// escpos, and a printer to test against in printersim.
//
// Delivery is exactly once across paper-out and cover-open. It is at least
// once across a lost connection or a daemon crash while a ticket is printing:
// the printer cannot say how much of a lost job it printed, and a duplicate
// receipt is better than none.
package printer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/vnkiosk/kiosk/devices/printer/escpos"
	"github.com/vnkiosk/kiosk/devices/printer/layout"
	"github.com/vnkiosk/kiosk/devices/printer/raster"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

// Options configure the printer subsystem.
type Options struct {
	URI      string // tcp://HOST:PORT or usb:/dev/usb/lpN; "" = no printer
	WidthMM  int    // 58 or 80
	SpoolDir string // where queued jobs wait, e.g. /var/lib/kioskd/printer-spool
	SpoolKey []byte // 32 bytes: AES-256-GCM key of the spool files
	// PollInterval is how often the status is asked while idle and how soon a
	// lost printer is retried at first (default 2s; retries back off to 30s).
	PollInterval time.Duration
	Log          *slog.Logger

	// Optional.
	NativeQR   bool          // print QR codes with GS ( k instead of raster
	JobTTL     time.Duration // a queued ticket older than this is dropped, not printed (default 15m)
	MaxQueued  int           // Submit fails beyond this many waiting jobs (default 32)
	StallAfter time.Duration // no progress for this long marks a job stalled (default 5s)
}

// Defaults.
const (
	DefaultPollInterval = 2 * time.Second
	DefaultJobTTL       = 15 * time.Minute
	DefaultMaxQueued    = 32
	maxBackoff          = 30 * time.Second
)

// Errors from Submit.
var (
	ErrNoPrinter  = errors.New("printer: no printer configured")
	ErrQueueFull  = errors.New("printer: too many tickets waiting")
	ErrStopped    = errors.New("printer: stopped")
	ErrNotStarted = errors.New("printer: not started")
)

// EventKind says what happened.
type EventKind string

// Event kinds.
const (
	EventConnected    EventKind = "connected"
	EventDisconnected EventKind = "disconnected" // the printer cannot be reached
	EventStatus       EventKind = "status"       // the printer's status changed
	EventJobQueued    EventKind = "job-queued"
	EventJobPrinting  EventKind = "job-printing"
	EventJobStalled   EventKind = "job-stalled" // no progress: paper out or cover open mid-ticket
	EventJobPrinted   EventKind = "job-printed"
	EventJobRetry     EventKind = "job-retry"   // printed, but the printer reported an error after it: it prints again
	EventJobDropped   EventKind = "job-dropped" // expired or unreadable: never printed
)

// Event is a change in the printer or its queue.
type Event struct {
	Time   time.Time
	Kind   EventKind
	JobID  string        // job events
	Status escpos.Status // the last known status
	Notice Notice        // what to tell the citizen, if anything
	Reason string        // plain English detail for logs (never personal data)
}

// job is a queued ticket; its bytes stay on disk.
type job struct {
	id      string
	created time.Time
}

// Printer is the receipt printer subsystem.
type Printer struct {
	opt   Options
	log   *slog.Logger
	width int
	uri   URI
	spool *spool
	fonts *raster.Fonts

	wake chan struct{}

	mu        sync.Mutex
	queue     []job
	subs      map[chan Event]struct{}
	started   bool
	stopping  bool
	stopCh    chan struct{}
	cancel    context.CancelFunc
	done      chan struct{}
	connected bool
	connErr   string
	status    escpos.Status
	hasStatus bool
	printing  string // job ID
	stalled   bool
	setupErr  string // fonts missing: cannot render
}

// New validates the options and opens the spool. It does not touch the
// printer; Start does.
func New(o Options) (*Printer, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.JobTTL == 0 {
		o.JobTTL = DefaultJobTTL
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = DefaultMaxQueued
	}
	if o.StallAfter <= 0 {
		o.StallAfter = DefaultStallAfter
	}
	w, ok := raster.WidthForMM(o.WidthMM)
	if !ok {
		return nil, fmt.Errorf("printer: paper width %d mm; expected 58 or 80", o.WidthMM)
	}
	p := &Printer{opt: o, log: o.Log, width: w, wake: make(chan struct{}, 1),
		subs: map[chan Event]struct{}{}, stopCh: make(chan struct{})}
	if o.URI == "" {
		return p, nil
	}
	u, err := ParseURI(o.URI)
	if err != nil {
		return nil, err
	}
	p.uri = u
	if o.SpoolDir == "" {
		return nil, errors.New("printer: no spool directory")
	}
	if p.spool, err = openSpool(o.SpoolDir, o.SpoolKey); err != nil {
		return nil, err
	}
	if p.fonts, err = raster.DejaVu(); err != nil {
		// The kiosk keeps serving; tickets cannot be rendered until the font
		// package is installed, which Health says.
		p.setupErr = err.Error()
	}
	return p, nil
}

// Name implements daemon.Subsystem.
func (p *Printer) Name() string { return "printer" }

// Start implements daemon.Subsystem: it loads jobs left in the spool and
// starts the worker. It does not wait for the printer, which may be off.
func (p *Printer) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return errors.New("printer: already started")
	}
	p.started = true
	if p.opt.URI == "" {
		return nil
	}
	ids, err := p.spool.list()
	if err != nil {
		return err
	}
	for _, id := range ids {
		t, _ := jobTime(id)
		p.queue = append(p.queue, job{id: id, created: t})
	}
	if len(ids) > 0 {
		p.log.Info("spooled tickets waiting from before the restart", "jobs", len(ids))
	}
	wctx, cancel := context.WithCancel(ctx)
	p.cancel, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		p.run(wctx)
	}()
	return nil
}

// Stop implements daemon.Subsystem: the ticket being printed finishes (until
// ctx ends), queued tickets stay in the spool for the next start.
func (p *Printer) Stop(ctx context.Context) error {
	p.mu.Lock()
	if !p.stopping {
		p.stopping = true
		close(p.stopCh)
	}
	done, cancel, printing := p.done, p.cancel, p.printing
	p.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		cancel()
		<-done
		return fmt.Errorf("printer: ticket %s was still printing when the drain ended; it stays spooled and prints again at the next start: %w", printing, ctx.Err())
	}
}

// Health implements daemon.Subsystem.
func (p *Printer) Health() daemon.Health {
	p.mu.Lock()
	defer p.mu.Unlock()
	waiting := ""
	if n := len(p.queue); n > 0 {
		waiting = "; " + strconv.Itoa(n) + " ticket(s) waiting"
	}
	switch {
	case p.opt.URI == "":
		return daemon.Health{State: daemon.StateAbsent, Reason: "no printer configured (devices.printer.uri is empty)"}
	case !p.started:
		return daemon.Health{State: daemon.StateStarting}
	case p.stopping:
		return daemon.Health{State: daemon.StateStopped}
	case p.setupErr != "":
		return daemon.Health{State: daemon.StateDegraded, Reason: p.setupErr}
	case !p.connected && p.connErr == "":
		return daemon.Health{State: daemon.StateStarting, Reason: "connecting to " + p.uri.String() + waiting}
	case !p.connected:
		return daemon.Health{State: daemon.StateAbsent, Reason: p.connErr + waiting}
	case p.stalled:
		return daemon.Health{State: daemon.StateDegraded, Reason: "printer stopped in the middle of a ticket (paper out or cover open?)" + waiting}
	}
	if r := statusReason(p.status); r != "" {
		return daemon.Health{State: daemon.StateDegraded, Reason: r + waiting}
	}
	return daemon.Health{State: daemon.StateOK}
}

// statusReason is the plain-English health reason for a status, "" when fine.
func statusReason(st escpos.Status) string {
	switch {
	case st.CutterError:
		return "cutter error"
	case st.Unrecoverable:
		return "unrecoverable printer error: power-cycle the printer"
	case st.MechanicalError:
		return "mechanical error (paper jam?)"
	case st.AutoRecoverable:
		return "printer paused by a recoverable error (head temperature?)"
	case st.ErrorOccurred:
		return "printer reports an error"
	case st.CoverOpen:
		return "cover open"
	case st.PaperEnd || st.PaperEndStop:
		return "paper end"
	case st.Offline:
		return "printer offline"
	case st.PaperNearEnd:
		return "paper near end"
	}
	return ""
}

// Events subscribes to printer events until cancel is called. Events are
// dropped, not queued, for a subscriber that does not keep up: Health is the
// state, events only say it changed.
func (p *Printer) Events() (<-chan Event, func()) {
	ch := make(chan Event, 64)
	p.mu.Lock()
	p.subs[ch] = struct{}{}
	p.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			p.mu.Lock()
			delete(p.subs, ch)
			p.mu.Unlock()
			close(ch)
		})
	}
}

// emitLocked sends an event to every subscriber; p.mu is held.
func (p *Printer) emitLocked(e Event) {
	e.Time = time.Now()
	e.Status = p.status
	for ch := range p.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

func (p *Printer) emit(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.emitLocked(e)
}

// Submit renders page for this printer, spools it and queues it. It returns
// once the job is safely on disk; printing happens in the background. The job
// ID carries no personal data and may be logged.
func (p *Printer) Submit(ctx context.Context, page layout.Page) (string, error) {
	p.mu.Lock()
	switch {
	case p.opt.URI == "":
		p.mu.Unlock()
		return "", ErrNoPrinter
	case p.stopping:
		p.mu.Unlock()
		return "", ErrStopped
	case !p.started:
		p.mu.Unlock()
		return "", ErrNotStarted
	case p.setupErr != "":
		err := p.setupErr
		p.mu.Unlock()
		return "", fmt.Errorf("printer: %s", err)
	case len(p.queue) >= p.opt.MaxQueued:
		p.mu.Unlock()
		return "", ErrQueueFull
	}
	p.mu.Unlock()

	data, err := layout.Encode(page, layout.Options{Width: p.width, Fonts: p.fonts, NativeQR: p.opt.NativeQR})
	if err != nil {
		return "", fmt.Errorf("printer: render ticket: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	now := time.Now()
	id := newJobID(now)
	if err := p.spool.write(id, data); err != nil {
		return "", err
	}
	p.mu.Lock()
	p.queue = append(p.queue, job{id: id, created: now})
	notice := Notice{}
	if !p.connected || !p.status.CanPrint() || len(p.queue) > 1 {
		notice = NoticeQueued
	}
	p.emitLocked(Event{Kind: EventJobQueued, JobID: id, Notice: notice})
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return id, nil
}

// QueueLength returns how many tickets wait, the one printing included.
func (p *Printer) QueueLength() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// run is the worker: it owns the connection, reconnecting with backoff.
func (p *Printer) run(ctx context.Context) {
	backoff := p.opt.PollInterval
	for {
		if p.isStopping() || ctx.Err() != nil {
			return
		}
		dev, err := p.open(ctx)
		if err == nil {
			dev.StallAfter = p.opt.StallAfter
			backoff = p.opt.PollInterval
			p.setConnected(nil)
			err = p.session(ctx, dev)
			dev.Close()
			if p.isStopping() || ctx.Err() != nil {
				return
			}
		}
		p.setConnected(err)
		if !p.sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, max(maxBackoff, p.opt.PollInterval))
	}
}

// open connects to the printer; Stop interrupts a connection attempt, since
// no ticket is in flight then.
func (p *Printer) open(ctx context.Context) (*Device, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.stopCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	return Open(ctx, p.opt.URI)
}

func (p *Printer) isStopping() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopping
}

// sleep waits d, or less if a job arrives; false when the worker must end.
func (p *Printer) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.wake:
	case <-p.stopCh:
		return false
	case <-ctx.Done():
		return false
	}
	return true
}

func (p *Printer) setConnected(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		if !p.connected {
			p.connected, p.connErr = true, ""
			p.log.Info("printer connected", "uri", p.uri.String())
			p.emitLocked(Event{Kind: EventConnected})
		}
		return
	}
	reason := "printer not reachable at " + p.uri.String() + ": " + err.Error()
	if errors.Is(err, ErrNoAnswer) {
		reason = "printer at " + p.uri.String() + " does not answer status requests: " + err.Error()
	}
	if p.connected || p.connErr == "" {
		p.log.Warn("printer lost", "uri", p.uri.String(), "err", err)
		n := NoticeUnreachable
		if errors.Is(err, ErrNoAnswer) {
			n = NoticeNoStatus
		}
		p.emitLocked(Event{Kind: EventDisconnected, Notice: n, Reason: reason})
	}
	p.connected, p.connErr, p.hasStatus = false, reason, false
}

func (p *Printer) setStatus(st escpos.Status) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hasStatus && st == p.status {
		return
	}
	p.status, p.hasStatus = st, true
	p.log.Info("printer status", "status", st.String())
	p.emitLocked(Event{Kind: EventStatus, Notice: StatusNotice(st), Reason: statusReason(st)})
}

// session polls and prints on one connection until it fails or Stop.
func (p *Printer) session(ctx context.Context, dev *Device) error {
	for {
		st, err := dev.Status(ctx)
		if err != nil {
			return err
		}
		p.setStatus(st)
		if p.isStopping() {
			return nil
		}
		if j, ok := p.nextJob(); ok && st.CanPrint() {
			if err := p.print(ctx, dev, j); err != nil {
				return err
			}
			continue
		}
		if !p.sleep(ctx, p.opt.PollInterval) {
			return nil
		}
	}
}

// nextJob returns the oldest job, dropping those that waited past JobTTL: a
// receipt printed an hour after the citizen left only leaves their name in
// the tray.
func (p *Printer) nextJob() (job, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) > 0 {
		j := p.queue[0]
		if p.opt.JobTTL < 0 || time.Since(j.created) < p.opt.JobTTL {
			return j, true
		}
		p.dropLocked(j, "expired after waiting "+p.opt.JobTTL.String())
	}
	return job{}, false
}

func (p *Printer) dropLocked(j job, why string) {
	p.removeLocked(j.id)
	if err := p.spool.remove(j.id); err != nil {
		p.log.Error("cannot remove dropped ticket from the spool", "job", j.id, "err", err)
	}
	p.log.Warn("ticket dropped", "job", j.id, "why", why)
	p.emitLocked(Event{Kind: EventJobDropped, JobID: j.id, Notice: NoticeDropped, Reason: why})
}

func (p *Printer) removeLocked(id string) {
	for i, q := range p.queue {
		if q.id == id {
			p.queue = append(p.queue[:i], p.queue[i+1:]...)
			return
		}
	}
}

// print prints one job. An error means the connection is in doubt and the
// job stays queued.
func (p *Printer) print(ctx context.Context, dev *Device, j job) error {
	data, err := p.spool.read(j.id)
	if err != nil {
		p.mu.Lock()
		p.dropLocked(j, err.Error())
		p.mu.Unlock()
		return nil
	}
	p.mu.Lock()
	p.printing = j.id
	p.emitLocked(Event{Kind: EventJobPrinting, JobID: j.id})
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.printing, p.stalled = "", false
		p.mu.Unlock()
	}()

	t0 := time.Now()
	_, err = dev.Print(ctx, data, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.stalled {
			p.stalled = true
			p.log.Warn("printer stopped mid-ticket", "job", j.id)
			p.emitLocked(Event{Kind: EventJobStalled, JobID: j.id, Notice: NoticeStalled, Reason: "no progress for " + p.opt.StallAfter.String()})
		}
	})
	if err != nil {
		return fmt.Errorf("print ticket %s: %w", j.id, err)
	}
	p.mu.Lock()
	p.stalled = false
	p.mu.Unlock()
	// The fence says the bytes left the buffer; the status says nothing went
	// wrong on the way out (a jammed cutter keeps the ticket inside).
	st, err := dev.Status(ctx)
	if err != nil {
		return fmt.Errorf("status after ticket %s: %w", j.id, err)
	}
	p.setStatus(st)
	if st.Faulty() {
		p.log.Warn("printer error after ticket; it prints again once cleared", "job", j.id, "status", st.String())
		p.emit(Event{Kind: EventJobRetry, JobID: j.id, Notice: NoticeReprint, Reason: statusReason(st)})
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.spool.remove(j.id); err != nil {
		// Left in the spool it would print again after a restart; say so.
		p.log.Error("printed ticket could not be removed from the spool", "job", j.id, "err", err)
	}
	p.removeLocked(j.id)
	p.log.Info("ticket printed", "job", j.id, "bytes", len(data), "ms", time.Since(t0).Milliseconds())
	p.emitLocked(Event{Kind: EventJobPrinted, JobID: j.id, Notice: NoticePrinted})
	return nil
}

var _ daemon.Subsystem = (*Printer)(nil)

// Attachment implements daemon.Device: the printer's URI and paper width.
func (p *Printer) Attachment() string {
	return fmt.Sprintf("%s, %d mm", p.opt.URI, p.opt.WidthMM)
}

// Package outbox owns the kiosk's store-and-forward queue of filings: every
// dossier a citizen submits is written, with its scanned pages, to an encrypted
// SQLite database in the state directory in one durable transaction before the
// citizen is told "submitted", and one sender goroutine forwards the queue in
// order to the backend through a Forwarder, with an idempotency key that stays the
// same on every retry, exponential backoff with full jitter, and a circuit
// breaker. A filing leaves the kiosk's disk only once the backend acknowledged it;
// one the backend rejects, or that exhausts its attempts, becomes a dead letter
// that an operator can see and retry. The package also reports the queue's health,
// status and metrics, and refuses new filings with a citizen-facing message when
// the disk is full.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

// Filing is one dossier as the caller hands it over: opaque JSON for the backend
// plus what the kiosk needs to know about it. All of it is personal data: it is
// encrypted at rest and never logged.
type Filing struct {
	MaHoSo        string    // dossier code; the backend upserts on it
	ProcedureCode string    // MaTTHC
	CreatedAt     time.Time // set by Enqueue when zero
	Body          []byte    // JSON, passed through untouched
	Attachments   []Attachment
}

// Attachment is a document of the filing, such as one scanned page.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Receipt identifies a queued filing.
type Receipt struct {
	ID             int64  // outbox row id, safe to log and to show an operator
	IdempotencyKey string // 128-bit random hex, sent with every attempt
}

// Delivery is one attempt to forward one filing.
type Delivery struct {
	OutboxID       int64
	IdempotencyKey string
	Attempt        int // 1 for the first attempt, counted across restarts
	Filing         Filing
}

// Forwarder sends a delivery to the backend. It returns nil only once the
// backend has durably accepted the filing: the filing is then purged from the
// kiosk. Failures should be classified with Retryable or Permanent; unclassified
// errors are retried. Forward must honour ctx (the drain deadline, the per-attempt
// timeout) and must not keep d, whose plaintext is wiped after it returns. The
// backend must treat the idempotency key (or MaHoSo) as an upsert key: a kiosk
// killed between the backend's answer and the purge sends the filing again.
type Forwarder interface {
	Forward(ctx context.Context, d Delivery) error
}

// Options configure an Outbox. Zero values take the defaults named.
type Options struct {
	// StateDir holds the database, outbox.db (with its -wal and -shm files).
	StateDir string
	// Key is the 32-byte AES-256-GCM key every stored blob is sealed with. It
	// must be the same on every start: a database sealed under another key makes
	// Start fail.
	Key       []byte
	Forwarder Forwarder
	// Registerer receives the kioskd_outbox_* metrics; nil registers none.
	Registerer prometheus.Registerer
	Log        *slog.Logger // nil discards

	BackoffBase time.Duration // first retry delay bound (1s)
	BackoffCap  time.Duration // retry delay bound (30s)
	// MaxAttempts is the number of attempts, counted across restarts, after
	// which a filing that keeps failing is dead-lettered (50). Breaker probes
	// count: with the defaults a backend outage dead-letters the head filing
	// after about 25 minutes, and the next one about 25 minutes later.
	MaxAttempts      int
	BreakerThreshold int           // consecutive failures that open the breaker (5)
	BreakerCooldown  time.Duration // how long it stays open before a probe (5/6 of the backoff cap: 25s)
	ForwardTimeout   time.Duration // bound on one Forward call (2m)
	BusyTimeout      time.Duration // SQLite busy timeout (5s)
}

// DatabaseFile is the outbox database's name inside the state directory.
const DatabaseFile = "outbox.db"

func (o *Options) defaults() {
	if o.BackoffBase <= 0 {
		o.BackoffBase = time.Second
	}
	if o.BackoffCap <= 0 {
		o.BackoffCap = 30 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 50
	}
	if o.BreakerThreshold <= 0 {
		o.BreakerThreshold = 5
	}
	if o.BreakerCooldown <= 0 {
		// Shorter than the backoff cap: an open breaker is the slower of the two
		// waits, and a backend that comes back must see the backlog start
		// draining within the cap, the probe's own round trip included. A probe
		// every 25 s during an outage costs the backend nothing.
		o.BreakerCooldown = o.BackoffCap * 5 / 6
	}
	if o.ForwardTimeout <= 0 {
		o.ForwardTimeout = 2 * time.Minute
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Outbox is the queue and its sender; it is a daemon.Subsystem.
type Outbox struct {
	opt   Options
	seal  *sealer
	m     *metricSet
	randN func(int64) int64

	// rw guards st and the lifecycle: Enqueue and the operator calls hold it for
	// reading while they use the database, Stop takes it to close it.
	rw      sync.RWMutex
	st      *store
	started bool
	stopped bool
	openErr error

	wake       chan struct{} // a new or retried row; buffered 1
	walGrew    chan struct{} // a commit grew the WAL; buffered 1
	stop       chan struct{} // closed by Stop
	senderDone chan struct{}
	ckptDone   chan struct{}
	// fwdCtx is what deliveries run under: cancelled only when Stop's deadline
	// passes, so a drain finishes the delivery in flight.
	fwdCtx    context.Context
	cancelFwd context.CancelFunc

	// Owned by the sender goroutine.
	purgedSinceCheckpoint bool
	lastCheckpoint        time.Time

	// mu guards the sender's state that Stats and Health read.
	mu          sync.Mutex
	brk         *breaker
	inFlight    bool
	lastError   string
	lastErrorAt time.Time
	deadCount   int
	storageFull bool  // the last Enqueue was refused for lack of space
	dbErr       error // the sender's last read of the queue failed
}

// New validates the options and registers the metrics; Start opens the database.
func New(opt Options) (*Outbox, error) {
	opt.defaults()
	if opt.StateDir == "" {
		return nil, errors.New("outbox: no state directory")
	}
	if opt.Forwarder == nil {
		return nil, errors.New("outbox: no forwarder")
	}
	s, err := newSealer(opt.Key)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	o := &Outbox{
		opt: opt, seal: s, randN: rand.Int64N,
		wake: make(chan struct{}, 1), walGrew: make(chan struct{}, 1), stop: make(chan struct{}),
		senderDone: make(chan struct{}), ckptDone: make(chan struct{}),
		brk: newBreaker(opt.BreakerThreshold, opt.BreakerCooldown),
	}
	o.m = newMetricSet(o)
	if opt.Registerer != nil {
		if err := o.m.register(opt.Registerer); err != nil {
			return nil, fmt.Errorf("outbox metrics: %w", err)
		}
	}
	return o, nil
}

// Name implements daemon.Subsystem.
func (o *Outbox) Name() string { return "outbox" }

// Start opens (creating or migrating) the database and starts the sender. ctx
// bounds the opening only: the daemon cancels it once Start returns, so the
// sender lives until Stop.
func (o *Outbox) Start(ctx context.Context) error {
	o.rw.Lock()
	defer o.rw.Unlock()
	if o.started || o.stopped {
		return errors.New("outbox: already started (an Outbox runs once)")
	}
	st, err := openStore(ctx, filepath.Join(o.opt.StateDir, DatabaseFile), o.opt.BusyTimeout, o.seal)
	if err != nil {
		o.openErr = err
		return err
	}
	c, err := st.counts(ctx)
	if err != nil {
		st.close()
		o.openErr = err
		return err
	}
	o.st, o.started, o.openErr = st, true, nil
	o.mu.Lock()
	o.deadCount = c.dead
	o.mu.Unlock()
	o.fwdCtx, o.cancelFwd = context.WithCancel(context.Background())
	go o.run()
	go o.runCheckpointer()
	o.opt.Log.Info("outbox started", "pending", c.pending, "dead_letters", c.dead)
	return nil
}

// Stop drains: no new filing is accepted, the delivery in flight is allowed to
// finish until ctx's deadline (then it is cancelled and stays queued, to be sent
// again with the same idempotency key), and the database is checkpointed and
// closed.
func (o *Outbox) Stop(ctx context.Context) error {
	o.rw.Lock()
	if !o.started || o.stopped {
		o.stopped = true
		o.rw.Unlock()
		return nil
	}
	o.stopped = true
	o.rw.Unlock()
	close(o.stop)

	var errs []error
	select {
	case <-o.senderDone:
	case <-ctx.Done():
		o.cancelFwd()
		// A Forwarder that ignores its context cannot hold the drain hostage: the
		// database is closed under it and its late writes fail harmlessly.
		select {
		case <-o.senderDone:
		case <-time.After(time.Second):
		}
		errs = append(errs, fmt.Errorf("outbox: delivery in flight cut off at the drain deadline (it stays queued): %w", ctx.Err()))
	}
	o.cancelFwd()
	<-o.ckptDone // a passive checkpoint is bounded by the size of the WAL
	// Waits for Enqueue and operator calls already using the database.
	o.rw.Lock()
	defer o.rw.Unlock()
	if err := o.st.close(); err != nil {
		errs = append(errs, fmt.Errorf("outbox: close database: %w", err))
	}
	return errors.Join(errs...)
}

// Health implements daemon.Subsystem.
func (o *Outbox) Health() daemon.Health {
	o.rw.RLock()
	started, stopped, openErr := o.started, o.stopped, o.openErr
	o.rw.RUnlock()
	switch {
	case openErr != nil:
		return daemon.Health{State: daemon.StateFailed, Reason: "cannot open the outbox database: " + openErr.Error()}
	case stopped:
		return daemon.Health{State: daemon.StateStopped}
	case !started:
		return daemon.Health{State: daemon.StateStarting}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var reasons []string
	if o.storageFull {
		reasons = append(reasons, "storage full: new filings are refused")
	}
	if o.dbErr != nil {
		reasons = append(reasons, "the sender cannot read the outbox database: "+o.dbErr.Error())
	}
	switch o.brk.state {
	case BreakerOpen:
		reasons = append(reasons, fmt.Sprintf("backend unreachable: circuit breaker open after %d failed deliveries (last: %s)", o.brk.failures, o.lastError))
	case BreakerHalfOpen:
		reasons = append(reasons, fmt.Sprintf("backend unreachable: probing after %d failed deliveries (last: %s)", o.brk.failures, o.lastError))
	}
	if o.deadCount > 0 {
		reasons = append(reasons, fmt.Sprintf("%d dead-lettered filing(s) need an operator (kioskctl outbox)", o.deadCount))
	}
	if len(reasons) > 0 {
		return daemon.Health{State: daemon.StateDegraded, Reason: joinReasons(reasons)}
	}
	return daemon.Health{State: daemon.StateOK}
}

func joinReasons(rs []string) string {
	s := rs[0]
	for _, r := range rs[1:] {
		s += "; " + r
	}
	return s
}

// Enqueue stores a filing durably and wakes the sender. Only when it returns nil
// may the citizen be told the filing was submitted. A *RefusedError carries the
// message to show instead; errors.Is(err, ErrStorageFull) tells a full disk.
func (o *Outbox) Enqueue(ctx context.Context, f Filing) (Receipt, error) {
	if err := validate(&f); err != nil {
		return Receipt{}, err
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = time.Now()
	}
	o.rw.RLock()
	defer o.rw.RUnlock()
	if !o.started || o.stopped {
		return Receipt{}, &RefusedError{Err: ErrNotRunning}
	}
	r, err := o.st.insert(ctx, &f)
	o.mu.Lock()
	o.storageFull = errors.Is(err, ErrStorageFull)
	o.mu.Unlock()
	if err != nil {
		o.opt.Log.Error("filing refused", "err", err, "storage_full", errors.Is(err, ErrStorageFull))
		return Receipt{}, err
	}
	o.opt.Log.Info("filing queued", "outbox_id", r.ID, "idempotency_key", r.IdempotencyKey, "attachments", len(f.Attachments))
	o.signal()
	select {
	case o.walGrew <- struct{}{}:
	default:
	}
	return r, nil
}

func validate(f *Filing) error {
	switch {
	case f.MaHoSo == "":
		return fmt.Errorf("%w: no MaHoSo", ErrInvalidFiling)
	case f.ProcedureCode == "":
		return fmt.Errorf("%w: no procedure code", ErrInvalidFiling)
	case !json.Valid(f.Body):
		return fmt.Errorf("%w: body is not JSON", ErrInvalidFiling)
	}
	return nil
}

func (o *Outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Stats is the queue's status for `kioskctl outbox`; it holds no personal data.
type Stats struct {
	Pending     int           `json:"pending"`
	OldestAge   time.Duration `json:"oldest_age_ns"` // of the oldest pending filing
	DeadLetters int           `json:"dead_letters"`
	InFlight    bool          `json:"in_flight"`
	Breaker     BreakerState  `json:"breaker"`
	// ConsecutiveFailures is the run of retryable failures the breaker counts.
	ConsecutiveFailures int       `json:"consecutive_failures"`
	LastError           string    `json:"last_error,omitempty"` // a ForwardError reason
	LastErrorAt         time.Time `json:"last_error_at,omitzero"`
	StorageFull         bool      `json:"storage_full"`
}

// Stats reports the queue's status.
func (o *Outbox) Stats(ctx context.Context) (Stats, error) {
	o.rw.RLock()
	defer o.rw.RUnlock()
	if !o.started || o.stopped {
		return Stats{}, ErrNotRunning
	}
	c, err := o.st.counts(ctx)
	if err != nil {
		return Stats{}, err
	}
	s := Stats{Pending: c.pending, DeadLetters: c.dead}
	if !c.oldest.IsZero() {
		s.OldestAge = max(time.Since(c.oldest), 0)
	}
	o.mu.Lock()
	s.InFlight, s.Breaker, s.ConsecutiveFailures = o.inFlight, o.brk.state, o.brk.failures
	s.LastError, s.LastErrorAt, s.StorageFull = o.lastError, o.lastErrorAt, o.storageFull
	o.mu.Unlock()
	return s, nil
}

// EntryState says whether an entry waits to be sent or needs an operator.
type EntryState string

// Entry states.
const (
	EntryPending EntryState = "pending"
	EntryDead    EntryState = "dead"
)

// Entry is one queued filing as an operator sees it: ids, times and sizes, never
// its content or its MaHoSo.
type Entry struct {
	ID             int64      `json:"id"`
	IdempotencyKey string     `json:"idempotency_key"`
	State          EntryState `json:"state"`
	CreatedAt      time.Time  `json:"created_at"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  time.Time  `json:"next_attempt_at,omitzero"`
	DeadLetteredAt time.Time  `json:"dead_lettered_at,omitzero"`
	LastError      string     `json:"last_error,omitempty"`
	Attachments    int        `json:"attachments"`
	Bytes          int64      `json:"bytes"` // sealed size on disk
}

// List returns up to limit entries (pending and dead) in queue order; limit <= 0
// means 1000.
func (o *Outbox) List(ctx context.Context, limit int) ([]Entry, error) {
	if limit <= 0 {
		limit = 1000
	}
	o.rw.RLock()
	defer o.rw.RUnlock()
	if !o.started || o.stopped {
		return nil, ErrNotRunning
	}
	return o.st.list(ctx, limit)
}

// Retry puts a dead letter back in the queue at its original place, with a fresh
// attempt budget and the same idempotency key. It returns an error wrapping
// ErrNotFound or ErrNotDeadLetter when id is not a dead letter.
func (o *Outbox) Retry(ctx context.Context, id int64) error {
	o.rw.RLock()
	defer o.rw.RUnlock()
	if !o.started || o.stopped {
		return ErrNotRunning
	}
	if err := o.st.retry(ctx, id); err != nil {
		return err
	}
	o.refreshDead(ctx)
	o.opt.Log.Info("dead letter requeued by operator", "outbox_id", id)
	o.signal()
	return nil
}

// refreshDead recounts dead letters for Health, which must not touch the disk.
// Callers hold rw for reading.
func (o *Outbox) refreshDead(ctx context.Context) {
	c, err := o.st.counts(ctx)
	if err != nil {
		o.opt.Log.Warn("outbox recount failed", "err", err)
		return
	}
	o.mu.Lock()
	o.deadCount = c.dead
	o.mu.Unlock()
}

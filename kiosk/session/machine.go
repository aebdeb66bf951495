package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnkiosk/kiosk/devices/cabinet"
	"github.com/vnkiosk/kiosk/devices/printer"
	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
	"github.com/vnkiosk/kiosk/kiosk/filing"
	"github.com/vnkiosk/kiosk/kiosk/procedure"
)

// Options configure a Machine. Card is required; every other device may be
// nil, and the flows that need it then say so on screen.
type Options struct {
	Card     CardReader
	Codes    CodeScanner
	Scanner  DocumentScanner
	Printer  ReceiptPrinter
	Backend  Backend
	Filings  FilingSink
	Display  CustomerDisplay
	Cabinet  CabinetEvents    // the help button
	Sequence *filing.Sequence // MaHoSo numbering; required to file

	// Hospital kiosks.
	Departments []config.Department
	Insurance   InsuranceChecker
	Queue       TicketQueue
	Audit       AuditLog
	Staff       StaffDirectory

	// Technician mode.
	TechnicianPIN string // argon2id hash; "" = only staff cards with the technician role
	Tech          TechTools

	Site       config.Site
	KioskID    string
	Payment    config.Payment
	Language   string // the language a session starts in: vi or en
	Procedures []*procedure.Procedure

	IdleTimeout    time.Duration // no touch for this long ends a session
	WarnBefore     time.Duration // the "still there?" warning comes this long before
	GoodbyeFor     time.Duration // how long the goodbye screen stays
	PaymentTimeout time.Duration
	// OnHelp is told when the citizen calls staff (the cabinet LED, the backend).
	OnHelp func(on bool)

	Log        *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Machine is the session state machine, a daemon subsystem. One goroutine
// owns all session state; devices, background work and the UI reach it by
// posting functions to that goroutine, so there are no locks around personal
// data and no races between a card removal and a finishing read.
type Machine struct {
	opt     Options
	log     *slog.Logger
	post    chan func()
	ctx     context.Context // the loop's; sessions derive theirs from it
	started atomic.Bool
	cancel  context.CancelFunc
	done    chan struct{}

	// Owned by the loop goroutine.
	screen  Screen
	lang    string
	help    bool
	sess    *session
	goodbye *time.Timer
	timer   *time.Timer
	cueN    uint64
	cue     *Cue
	card    bool       // a card is on the reader
	staff   *staffMode // a health staff member is logged in
	tech    *techMode  // technician mode is open
	// The technician PIN's lockout.
	techFails     int
	techLockUntil time.Time
	// printerNotice is the printer's last reported condition (paper out…).
	printerNotice printer.Notice

	// The published state, read by any goroutine.
	mu       sync.Mutex
	seq      uint64
	cur      []byte
	watchers map[chan struct{}]struct{}

	sessions  *prometheus.CounterVec
	helps     prometheus.Counter
	insurance *prometheus.CounterVec
	tickets   *prometheus.CounterVec
}

// New returns a machine showing the idle screen.
func New(o Options) *Machine {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Language != "en" {
		o.Language = "vi"
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 90 * time.Second
	}
	if o.WarnBefore <= 0 || o.WarnBefore >= o.IdleTimeout {
		o.WarnBefore = min(20*time.Second, o.IdleTimeout/3)
	}
	if o.GoodbyeFor <= 0 {
		o.GoodbyeFor = 5 * time.Second
	}
	if o.PaymentTimeout <= 0 {
		o.PaymentTimeout = 5 * time.Minute
	}
	if o.Procedures == nil {
		o.Procedures = procedure.All()
	}
	m := &Machine{opt: o, log: o.Log, post: make(chan func(), 64), screen: ScreenIdle, lang: o.Language,
		watchers: map[chan struct{}]struct{}{}}
	m.sessions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kioskd_sessions_total",
		Help: "Kiosk sessions by how they ended (filed, ticket, looked_up, checked, cancelled, declined, timeout, card_removed, staff_logout, staff_timeout, shutdown).",
	}, []string{"end"})
	m.insurance = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kioskd_insurance_checks_total",
		Help: "Insurance (BHYT) checks by result kind (ok, expired, new_card, offline, gateway_error, ...).",
	}, []string{"kind"})
	m.tickets = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kioskd_queue_tickets_total",
		Help: "Queue tickets issued, by insurance state on the ticket (checked, not_checked, problem).",
	}, []string{"insurance"})
	m.helps = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kioskd_help_requests_total",
		Help: "Times a citizen called staff from the kiosk.",
	})
	if o.Registerer != nil {
		o.Registerer.MustRegister(m.sessions, m.helps, m.insurance, m.tickets)
	}
	m.publish()
	return m
}

// Name implements daemon.Subsystem.
func (m *Machine) Name() string { return "session" }

// Start implements daemon.Subsystem: it subscribes to the devices and runs the
// loop until Stop.
func (m *Machine) Start(ctx context.Context) error {
	if m.opt.Card == nil {
		return errors.New("session: no card reader")
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.ctx, m.cancel, m.done = ctx, cancel, make(chan struct{})
	cards, stopCards := m.opt.Card.Subscribe()
	var codes <-chan barcodeScan
	stopCodes := func() {}
	if m.opt.Codes != nil {
		codes, stopCodes = m.opt.Codes.Subscribe()
	}
	var prints <-chan printerEvent
	stopPrints := func() {}
	if m.opt.Printer != nil {
		prints, stopPrints = m.opt.Printer.Events()
	}
	var cab <-chan cabinetEvent
	stopCab := func() {}
	if m.opt.Cabinet != nil {
		cab, stopCab = m.opt.Cabinet.Subscribe()
	}
	m.started.Store(true)
	go func() {
		defer close(m.done)
		defer stopCards()
		defer stopCodes()
		defer stopPrints()
		defer stopCab()
		m.loop(ctx, cards, codes, prints, cab)
	}()
	return nil
}

// Stop implements daemon.Subsystem: the current session ends and its data is
// wiped.
func (m *Machine) Stop(ctx context.Context) error {
	if !m.started.Load() {
		return nil
	}
	m.cancel()
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Health implements daemon.Subsystem.
func (m *Machine) Health() daemon.Health {
	if !m.started.Load() {
		return daemon.Health{State: daemon.StateStarting}
	}
	select {
	case <-m.done:
		return daemon.Health{State: daemon.StateFailed, Reason: "the session loop stopped"}
	default:
		return daemon.Health{State: daemon.StateOK}
	}
}

func (m *Machine) loop(ctx context.Context, cards <-chan pcscEvent, codes <-chan barcodeScan, prints <-chan printerEvent, cab <-chan cabinetEvent) {
	for {
		var timeout, bye, techTick <-chan time.Time
		if m.tech != nil {
			techTick = m.tech.tick.C
		}
		if m.timer != nil {
			timeout = m.timer.C
		}
		if m.goodbye != nil {
			bye = m.goodbye.C
		}
		select {
		case <-ctx.Done():
			m.endSession("shutdown")
			m.publish()
			return
		case f := <-m.post:
			f()
		case ev, ok := <-cards:
			if !ok {
				cards = nil
				continue
			}
			m.onCardEvent(ctx, ev)
		case sc, ok := <-codes:
			if !ok {
				codes = nil
				continue
			}
			m.onCode(ctx, sc)
		case ev, ok := <-prints:
			if !ok {
				prints = nil
				continue
			}
			m.onPrinterEvent(ev)
		case ev, ok := <-cab:
			if !ok {
				cab = nil
				continue
			}
			if ev.Kind == cabinet.HelpRequested {
				m.callStaff(true)
			}
		case <-timeout:
			m.timer = nil
			m.onTimeout(ctx)
		case <-techTick:
			// The devices and logs panels follow the daemon; publish below
			// sends them only if they changed.
		case <-bye:
			m.goodbye = nil
			// A card left on the reader keeps the goodbye screen ("take your
			// card") up: the idle screen would ask for a card that is already there.
			if m.screen == ScreenGoodbye && !m.card {
				m.screen = ScreenIdle
			}
		}
		m.publish()
	}
}

// Do hands an intent from the screen to the loop and returns whether it was
// accepted. It waits only for the decision, never for the work the intent
// starts.
func (m *Machine) Do(ctx context.Context, in Intent) error {
	h, ok := handlers[in.Name]
	if !ok {
		return &IntentError{Code: "unknown_intent", Message: "no intent named " + quote(in.Name)}
	}
	if !m.started.Load() {
		return ErrClosed
	}
	res := make(chan error, 1)
	// The state is published before the answer, so an accepted intent's effect
	// is visible to whoever reads the state next.
	f := func() {
		err := m.handle(h, in)
		m.publish()
		res <- err
	}
	select {
	case m.post <- f:
	case <-m.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-res:
		return err
	case <-m.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run posts f to the loop from background work; it gives up when the machine
// stops.
func (m *Machine) run(f func()) {
	select {
	case m.post <- f:
	case <-m.done:
	}
}

// Watch returns a channel signalled (coalesced) after each state change, and
// a function that stops the watch.
func (m *Machine) Watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	m.mu.Lock()
	m.watchers[ch] = struct{}{}
	m.mu.Unlock()
	return ch, func() {
		m.mu.Lock()
		delete(m.watchers, ch)
		m.mu.Unlock()
	}
}

// State returns a copy of the current state as JSON.
func (m *Machine) State() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.cur...)
}

// publish encodes the loop's view and, when it changed, swaps it in and wakes
// the watchers. The replaced encoding is zeroed: it may hold the citizen's name.
func (m *Machine) publish() {
	st := m.view()
	m.mu.Lock()
	defer m.mu.Unlock()
	st.Seq = m.seq + 1
	b, err := json.Marshal(st)
	if err != nil {
		m.log.Error("encode screen state", "err", err)
		return
	}
	if m.cur != nil && sameExceptSeq(m.cur, b, m.seq, st.Seq) {
		clear(b)
		return
	}
	m.seq = st.Seq
	clear(m.cur)
	m.cur = b
	for ch := range m.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// sameExceptSeq reports whether two encodings differ only by their seq.
func sameExceptSeq(old, new []byte, oldSeq, newSeq uint64) bool {
	prefix := func(seq uint64) string { b, _ := json.Marshal(seq); return `{"seq":` + string(b) + `,` }
	po, pn := prefix(oldSeq), prefix(newSeq)
	if len(old) < len(po) || len(new) < len(pn) || string(old[:len(po)]) != po || string(new[:len(pn)]) != pn {
		return false
	}
	return string(old[len(po):]) == string(new[len(pn):])
}

// playCue asks the screen for a sound with this change.
func (m *Machine) playCue(sound string) {
	m.cueN++
	m.cue = &Cue{Sound: sound, N: m.cueN}
}

// touch restarts the inactivity timer of a session screen.
func (m *Machine) touch() {
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	deadline := m.opt.Now().Add(m.opt.IdleTimeout)
	switch {
	case m.sess != nil:
		m.sess.deadline = deadline
	case m.staff != nil:
		// Staff mode between patients ends too when nobody touches the screen.
		m.staff.deadline = deadline
	default:
		return
	}
	if m.staff != nil {
		m.staff.deadline = deadline
	}
	m.timer = time.NewTimer(m.opt.IdleTimeout)
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

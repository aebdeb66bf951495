package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/barcode"
	"github.com/vnkiosk/kiosk/devices/barcode/qrpayload"
	"github.com/vnkiosk/kiosk/devices/cabinet"
	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc"
	"github.com/vnkiosk/kiosk/devices/printer"
	"github.com/vnkiosk/kiosk/devices/printer/escpos"
	"github.com/vnkiosk/kiosk/devices/printer/layout"
	"github.com/vnkiosk/kiosk/devices/scanner"
	"github.com/vnkiosk/kiosk/kiosk/backend"
	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/filing"
	"github.com/vnkiosk/kiosk/kiosk/outbox"
	"github.com/vnkiosk/kiosk/kiosk/submission"
)

// The fakes stand below the session's interfaces; the real devices are tested
// in their packages and end to end through kioskd and Chromium.

type fakeCard struct {
	events chan pcsc.Event
	mu     sync.Mutex
	err    error              // the next read's error
	gate   chan struct{}      // when set, a read waits for it
	docs   []*idcard.Document // every document handed out, to check wiping
	// patient, when set, is the next card's holder instead of the sample.
	patient *idcard.Document
}

func newFakeCard() *fakeCard { return &fakeCard{events: make(chan pcsc.Event, 8)} }

func (c *fakeCard) Subscribe() (<-chan pcsc.Event, func()) { return c.events, func() {} }

func (c *fakeCard) Read(ctx context.Context, key idcard.AccessKey, opt idcard.Options) (*idcard.Document, error) {
	c.mu.Lock()
	err, gate := c.err, c.gate
	c.err = nil
	c.mu.Unlock()
	for _, step := range []string{"access", "chip_auth", "read"} {
		opt.Progress(idcard.Progress{Step: step, BytesRead: 9000})
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	if key.CAN != "012345" {
		return nil, idcard.ErrAccessDenied
	}
	d := filing.SampleDocument()
	c.mu.Lock()
	if c.patient != nil {
		d, c.patient = c.patient, nil
	}
	c.mu.Unlock()
	d.Photo = &idcard.Photo{MIME: "image/jpeg", Data: []byte("photo bytes of the citizen")}
	d.Verification = &idcard.Verification{Access: "PACE-CAN", Passive: idcard.PassiveResult{State: "valid", SODHash: strings.Repeat("ab", 32)},
		ChipAuth: idcard.AuthResult{State: idcard.AuthOK}, ActiveAuth: idcard.AuthResult{State: idcard.AuthNotSupported}}
	c.mu.Lock()
	c.docs = append(c.docs, d)
	c.mu.Unlock()
	return d, nil
}

type fakeCodes struct{ ch chan barcode.Scan }

func (f fakeCodes) Subscribe() (<-chan barcode.Scan, func()) { return f.ch, func() {} }

type fakeScanner struct {
	mu   sync.Mutex
	docs []*scanner.Document
	err  error
}

func (f *fakeScanner) Scan(ctx context.Context, req scanner.ScanRequest, progress func(scanner.Progress)) (*scanner.Document, error) {
	progress(scanner.Progress{Stage: scanner.StageScanning, Page: 1, Pages: 1, Percent: 50})
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		err := f.err
		f.err = nil
		return nil, err
	}
	img := image.NewGray(image.Rect(0, 0, 620, 877))
	for i := range img.Pix {
		img.Pix[i] = uint8(i % 251)
	}
	img.Set(1, 1, color.Black)
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		return nil, err
	}
	d := &scanner.Document{Pages: []scanner.Page{{JPEG: b.Bytes(), Width: 620, Height: 877, DPI: 75}}}
	f.docs = append(f.docs, d)
	return d, nil
}

type fakePrinter struct {
	mu     sync.Mutex
	pages  []layout.Page
	ids    []string
	events chan printer.Event
	hold   bool // queue without printing, until the test says
}

func (p *fakePrinter) Submit(ctx context.Context, page layout.Page) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pages = append(p.pages, page)
	id := "job-" + string(rune('a'+len(p.pages)))
	p.ids = append(p.ids, id)
	if p.hold {
		p.events <- printer.Event{Kind: printer.EventJobQueued, JobID: id}
	} else {
		p.events <- printer.Event{Kind: printer.EventJobPrinted, JobID: id}
	}
	return id, nil
}

func (p *fakePrinter) Events() (<-chan printer.Event, func()) { return p.events, func() {} }

type fakeBackend struct {
	pay    chan backend.Payment
	status map[string]int
}

func (b *fakeBackend) WaitPayment(ctx context.Context, ref string) (backend.Payment, error) {
	select {
	case p := <-b.pay:
		p.Ref = ref
		return p, nil
	case <-ctx.Done():
		return backend.Payment{}, ctx.Err()
	}
}

func (b *fakeBackend) Status(ctx context.Context, maHoSo string) (backend.DossierStatus, error) {
	code, ok := b.status[maHoSo]
	if !ok {
		return backend.DossierStatus{}, backend.ErrNotFound
	}
	return backend.DossierStatus{MaHoSo: maHoSo, TrangThaiHoSo: code, Label: "Đang xử lý"}, nil
}

// fakeDisplay is the customer display (its driver is tested against recorded
// SPI bytes in devices/display).
type fakeDisplay struct {
	mu      sync.Mutex
	shown   []string // payloads shown
	idle    int
	expires time.Time
}

func (d *fakeDisplay) ShowsPaymentQR() bool { return true }
func (d *fakeDisplay) ShowPaymentQR(payload string, amount int64, deadline time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.shown, d.expires = append(d.shown, payload), deadline
	return nil
}
func (d *fakeDisplay) ShowIdle() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.idle++
	return nil
}

type neverForward struct{}

func (neverForward) Forward(ctx context.Context, d outbox.Delivery) error {
	return outbox.Retryable("test backend is down", errors.New("down"))
}

type rig struct {
	m       *Machine
	card    *fakeCard
	codes   fakeCodes
	scan    *fakeScanner
	print   *fakePrinter
	backend *fakeBackend
	outbox  *outbox.Outbox
	watch   <-chan struct{}
}

func newRig(t testing.TB, mutate func(*Options)) *rig {
	t.Helper()
	dir := t.TempDir()
	ob, err := outbox.New(outbox.Options{StateDir: dir, Key: bytes.Repeat([]byte{7}, 32), Forwarder: neverForward{}, BackoffBase: time.Hour, BackoffCap: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ob.Stop(context.Background()) })
	r := &rig{card: newFakeCard(), codes: fakeCodes{make(chan barcode.Scan, 4)}, scan: &fakeScanner{},
		print: &fakePrinter{events: make(chan printer.Event, 16)}, backend: &fakeBackend{pay: make(chan backend.Payment, 1), status: map[string]int{}}, outbox: ob}
	o := Options{Card: r.card, Codes: r.codes, Scanner: r.scan, Printer: r.print, Backend: r.backend,
		Filings: &submission.Intake{Outbox: ob}, Sequence: filing.NewSequence(dir, "seq"),
		Site: config.Site{Kind: config.SiteWard, Code: "000.00.00.H00", Name: "UBND Phường Thử"}, KioskID: "TEST-01",
		Payment:  config.Payment{BIN: "970436", Account: "0011009999999", AccountName: "UBND PHUONG THU"},
		Language: "vi", IdleTimeout: time.Minute, GoodbyeFor: 50 * time.Millisecond}
	if mutate != nil {
		mutate(&o)
	}
	r.m = New(o)
	var stop func()
	r.watch, stop = r.m.Watch()
	t.Cleanup(stop)
	if err := r.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.m.Stop(context.Background()) })
	return r
}

func (r *rig) state(t testing.TB) State {
	t.Helper()
	var st State
	if err := json.Unmarshal(r.m.State(), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// waitFor waits until the state satisfies ok.
func (r *rig) waitFor(t testing.TB, what string, ok func(State) bool) State {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		st := r.state(t)
		if ok(st) {
			return st
		}
		select {
		case <-r.watch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; state is %s", what, r.m.State())
		}
	}
}

func (r *rig) waitScreen(t testing.TB, s Screen) State {
	t.Helper()
	return r.waitFor(t, "screen "+string(s), func(st State) bool { return st.Screen == s })
}

func (r *rig) do(t testing.TB, name string, data any) {
	t.Helper()
	if err := r.try(name, data); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func (r *rig) try(name string, data any) error {
	raw, ok := data.(json.RawMessage)
	if !ok && data != nil {
		raw, _ = json.Marshal(data)
	}
	return r.m.Do(context.Background(), Intent{Name: name, Data: raw})
}

func intentCode(err error) string {
	var ie *IntentError
	if errors.As(err, &ie) {
		return ie.Code
	}
	return ""
}

// toIdentity takes a fresh rig from idle to the identity screen.
func (r *rig) toIdentity(t testing.TB) State {
	t.Helper()
	r.card.events <- pcsc.Event{Kind: pcsc.CardInserted, Reader: "Virtual PCD 00 00"}
	st := r.waitScreen(t, ScreenCardKey)
	if st.Session == "" || st.CardKey == nil || st.CardKey.Digits != 6 || st.Cue == nil || st.Cue.Sound != "card" {
		t.Fatalf("card key screen: %s", r.m.State())
	}
	r.do(t, IntentEnterCAN, map[string]string{"can": "012345"})
	return r.waitScreen(t, ScreenIdentity)
}

const sampleName, sampleID = "Nguyễn Văn An", "001083012345"

// assertNoPersonalData checks the published state and everything the machine
// retains once a session has ended.
func (r *rig) assertNoPersonalData(t *testing.T) {
	t.Helper()
	b := r.m.State()
	for _, s := range []string{sampleName, sampleID, "photo bytes", "0912345678"} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("state after the session still holds %q: %s", s, b)
		}
	}
	done := make(chan *session)
	r.m.run(func() { done <- r.m.sess })
	if s := <-done; s != nil {
		t.Errorf("a session is still held after the end: screen %s", r.m.screen)
	}
	r.card.mu.Lock()
	defer r.card.mu.Unlock()
	for _, d := range r.card.docs {
		if d.FullName != nil || d.IDNumber != nil || d.Photo != nil {
			t.Errorf("the chip document was not wiped: %+v", d)
		}
	}
	r.scan.mu.Lock()
	defer r.scan.mu.Unlock()
	for _, d := range r.scan.docs {
		if len(d.Pages) != 0 {
			t.Errorf("a scanned document was not wiped")
		}
	}
}

func TestWardFilingFlow(t *testing.T) {
	t.Parallel()
	display := &fakeDisplay{}
	r := newRig(t, func(o *Options) { o.Display = display })
	st := r.state(t)
	if st.Screen != ScreenIdle || st.Say != "say.idle" || st.Session != "" || st.Lang != "vi" {
		t.Fatalf("initial state: %s", r.m.State())
	}
	st = r.toIdentity(t)
	id := st.Identity
	if id == nil || id.FullName != sampleName || id.IDMasked != "0010****2345" || id.DateOfBirth != "15/03/1983" ||
		!strings.HasPrefix(id.Photo, "data:image/jpeg;base64,") || !id.Trusted || len(id.Checks) != 3 {
		t.Fatalf("identity: %+v", id)
	}
	if strings.Contains(string(r.m.State()), sampleID) {
		t.Fatal("the full ID number reached the screen")
	}
	r.do(t, IntentConfirmIdentity, nil)
	st = r.waitScreen(t, ScreenServices)
	if len(st.Services) != 5 {
		t.Fatalf("services: %+v", st.Services)
	}
	r.do(t, IntentChooseService, map[string]string{"code": "1.004873"})
	st = r.waitScreen(t, ScreenForm)
	fields := map[string]FieldView{}
	for _, f := range st.Form.Fields {
		fields[f.Key] = f
	}
	if f := fields["full_name"]; !f.Locked || f.Value != sampleName {
		t.Errorf("full_name should be locked from the chip: %+v", f)
	}
	if f := fields["id_number"]; !f.Locked || f.Value != "0010****2345" {
		t.Errorf("the ID number on the form is locked and masked: %+v", f)
	}
	if f := fields["phone"]; f.Locked || f.Value != "" {
		t.Errorf("phone is typed by the citizen: %+v", f)
	}
	if st.Form.Step != 1 || st.Form.Steps != 4 {
		t.Errorf("steps %d/%d, want 1/4 (form, scan, consent, fee)", st.Form.Step, st.Form.Steps)
	}
	if err := r.try(IntentSetField, map[string]string{"key": "full_name", "value": "Someone Else"}); intentCode(err) != "invalid" {
		t.Errorf("changing a chip field: %v, want invalid", err)
	}
	r.do(t, IntentSubmitForm, nil)
	st = r.waitFor(t, "field errors", func(st State) bool { return st.Form != nil && hasError(st.Form, "phone") })
	if st.Screen != ScreenForm {
		t.Fatal("an incomplete form went on")
	}
	r.do(t, IntentSetField, map[string]string{"key": "phone", "value": "0912345678"})
	r.do(t, IntentSetField, map[string]string{"key": "purpose", "value": "Kết hôn"})
	r.do(t, IntentSubmitForm, nil)
	st = r.waitScreen(t, ScreenAttachments)
	if err := r.try(IntentAttachmentsDone, nil); intentCode(err) != "invalid" {
		t.Errorf("going on without the required page: %v", err)
	}
	r.do(t, IntentScanPage, map[string]int{"attachment": 0})
	st = r.waitFor(t, "a scanned page", func(st State) bool {
		return st.Attachments != nil && len(st.Attachments.Items[0].Pages) == 1 && !st.Busy
	})
	if !strings.HasPrefix(st.Attachments.Items[0].Pages[0], "data:image/jpeg;base64,") {
		t.Fatal("no preview of the scanned page")
	}
	r.do(t, IntentAttachmentsDone, nil)
	st = r.waitScreen(t, ScreenConsent)
	if st.Consent.Version != Consent.Version || st.Consent.Text.VI == "" {
		t.Fatalf("consent: %+v", st.Consent)
	}
	if err := r.try(IntentAcceptConsent, map[string]string{"version": "1999-01"}); intentCode(err) != "invalid" {
		t.Errorf("accepting another consent version: %v", err)
	}
	r.do(t, IntentAcceptConsent, map[string]string{"version": Consent.Version})
	st = r.waitFor(t, "payment QR", func(st State) bool { return st.Payment != nil && st.Payment.State == "waiting" })
	p := st.Payment
	if p.AmountVND != 15000 || p.Amount != "15.000 ₫" || !strings.HasPrefix(p.QR, "data:image/png;base64,") ||
		!strings.HasPrefix(p.Reference, "000.00.00.H00-") || p.ExpiresAt <= time.Now().UnixMilli() {
		t.Fatalf("payment: %+v", p)
	}
	if err := r.try(IntentCancel+"x", nil); intentCode(err) != "unknown_intent" {
		t.Errorf("unknown intent: %v", err)
	}
	display.mu.Lock()
	if len(display.shown) != 1 || !strings.Contains(display.shown[0], "5405150005802VN") || display.expires.UnixMilli() != p.ExpiresAt {
		t.Errorf("customer display: %q until %v; want the fee's VietQR until the screen's deadline", display.shown, display.expires)
	}
	display.mu.Unlock()
	paid := time.Date(2026, 11, 22, 10, 0, 0, 0, filing.Vietnam)
	r.backend.pay <- backend.Payment{Status: backend.PaymentPaid, PaidAt: paid}
	st = r.waitScreen(t, ScreenDone)
	if st.Done.MaHoSo != p.Reference {
		t.Errorf("dossier code %q, payment reference %q: the payment must name the dossier", st.Done.MaHoSo, p.Reference)
	}
	st = r.waitFor(t, "receipts printed", func(st State) bool { return st.Done != nil && st.Done.Print == "printed" })
	r.print.mu.Lock()
	if len(r.print.pages) != 2 {
		t.Errorf("printed %d pages, want the dossier receipt and the fee receipt", len(r.print.pages))
	}
	r.print.mu.Unlock()

	stats, err := r.outbox.Stats(context.Background())
	if err != nil || stats.Pending != 1 {
		t.Fatalf("outbox after filing: %+v, %v", stats, err)
	}

	display.mu.Lock()
	if display.idle == 0 {
		t.Error("the customer display kept the payment QR after payment")
	}
	display.mu.Unlock()
	r.do(t, IntentFinish, nil)
	r.waitScreen(t, ScreenGoodbye)
	r.assertNoPersonalData(t)
	// The card is still on the reader: goodbye stays until it is taken.
	time.Sleep(150 * time.Millisecond)
	if st := r.state(t); st.Screen != ScreenGoodbye {
		t.Fatalf("left the goodbye screen with the card still on the reader: %s", st.Screen)
	}
	r.card.events <- pcsc.Event{Kind: pcsc.CardRemoved}
	st = r.waitScreen(t, ScreenIdle)
	if st.Session != "" || st.Lang != "vi" {
		t.Errorf("idle after the session: %s", r.m.State())
	}
}

func TestMaskID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"001083012345": "0010****2345", "012345678": "01*****78", "1234": "****", "": "****"} {
		if got := maskID(in); got != want {
			t.Errorf("maskID(%q) = %q, want %q", in, got, want)
		}
	}
}

func hasError(f *FormView, key string) bool {
	for _, fl := range f.Fields {
		if fl.Key == key && fl.Error != nil {
			return true
		}
	}
	return false
}

// TestReceiptWaitsForPrinter: the printer runs out of paper after the
// receipt was queued; the screen says so, and follows when it prints.
func TestReceiptWaitsForPrinter(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.print.hold = true
	r.toIdentity(t)
	r.do(t, IntentConfirmIdentity, nil)
	r.do(t, IntentChooseService, map[string]string{"code": "1.004873"})
	r.do(t, IntentSetField, map[string]string{"key": "phone", "value": "0912345678"})
	r.do(t, IntentSetField, map[string]string{"key": "purpose", "value": "Kết hôn"})
	r.do(t, IntentSubmitForm, nil)
	r.do(t, IntentScanPage, map[string]int{"attachment": 0})
	r.waitFor(t, "page", func(st State) bool { return !st.Busy && len(st.Attachments.Items[0].Pages) == 1 })
	r.do(t, IntentAttachmentsDone, nil)
	r.do(t, IntentAcceptConsent, map[string]string{"version": Consent.Version})
	r.waitFor(t, "payment", func(st State) bool { return st.Payment != nil && st.Payment.State == "waiting" })
	r.backend.pay <- backend.Payment{Status: backend.PaymentPaid}
	r.waitFor(t, "printing", func(st State) bool { return st.Done != nil && st.Done.Print == "printing" })
	r.print.events <- printer.Event{Kind: printer.EventStatus, Status: escpos.Status{PaperEnd: true}, Notice: printer.NoticePaperEnd}
	st := r.waitFor(t, "the printer's problem", func(st State) bool { return st.Done != nil && st.Done.Print == "failed" })
	if !strings.Contains(st.Done.PrintError.VI, "hết giấy") {
		t.Errorf("print error: %+v", st.Done.PrintError)
	}
	r.print.mu.Lock()
	ids := append([]string(nil), r.print.ids...)
	r.print.mu.Unlock()
	for _, id := range ids {
		r.print.events <- printer.Event{Kind: printer.EventJobPrinted, JobID: id}
	}
	r.waitFor(t, "printed at last", func(st State) bool { return st.Done != nil && st.Done.Print == "printed" })
}

func TestCardRemovalEndsSessionAndWipes(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.toIdentity(t)
	r.do(t, IntentSetLanguage, map[string]string{"lang": "en"})
	r.do(t, IntentConfirmIdentity, nil)
	r.do(t, IntentChooseService, map[string]string{"code": "1.004873"})
	r.do(t, IntentSetField, map[string]string{"key": "phone", "value": "0912345678"})
	r.card.events <- pcsc.Event{Kind: pcsc.CardRemoved}
	st := r.waitScreen(t, ScreenGoodbye)
	if st.Session != "" || st.Lang != "vi" {
		t.Errorf("goodbye: %s", r.m.State())
	}
	r.assertNoPersonalData(t)
}

func TestReadPulledCardResultIsWiped(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	gate := make(chan struct{})
	r.card.mu.Lock()
	r.card.gate = gate
	r.card.mu.Unlock()
	r.card.events <- pcsc.Event{Kind: pcsc.CardInserted}
	r.waitScreen(t, ScreenCardKey)
	r.do(t, IntentEnterCAN, map[string]string{"can": "012345"})
	st := r.waitFor(t, "progress", func(st State) bool { return st.Reading != nil && st.Reading.Percent > 15 })
	if !st.Busy || st.Timeout != nil {
		t.Errorf("a read is busy and does not time out: %s", r.m.State())
	}
	if err := r.try(IntentConfirmIdentity, nil); intentCode(err) != "wrong_screen" {
		t.Errorf("confirm while reading: %v", err)
	}
	r.card.events <- pcsc.Event{Kind: pcsc.CardRemoved}
	r.waitScreen(t, ScreenGoodbye)
	close(gate)
	time.Sleep(50 * time.Millisecond)
	r.assertNoPersonalData(t)
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.card.events <- pcsc.Event{Kind: pcsc.CardInserted}
	r.waitScreen(t, ScreenCardKey)
	if err := r.try(IntentEnterCAN, map[string]string{"can": "12a"}); intentCode(err) != "invalid" {
		t.Errorf("malformed CAN: %v", err)
	}
	if err := r.try(IntentEnterCAN, map[string]any{"can": "012345", "extra": 1}); intentCode(err) != "bad_data" {
		t.Errorf("unknown data field: %v", err)
	}
	r.do(t, IntentEnterCAN, map[string]string{"can": "999999"})
	st := r.waitFor(t, "CAN error", func(st State) bool { return st.Screen == ScreenCardKey && st.CardKey.Error != nil })
	if st.Cue == nil || st.Cue.Sound != "error" {
		t.Errorf("no error cue: %+v", st.Cue)
	}
	r.card.mu.Lock()
	r.card.err = idcard.ErrNotEMRTD
	r.card.mu.Unlock()
	r.do(t, IntentEnterCAN, map[string]string{"can": "012345"})
	st = r.waitScreen(t, ScreenError)
	if st.Error.Code != "unsupported_card" || st.Say != "say.error" || st.Error.Message.VI == "" {
		t.Errorf("error screen: %+v", st.Error)
	}
	r.do(t, IntentRetry, nil)
	r.waitScreen(t, ScreenIdentity)
}

func TestReceiptQRLooksUpDossier(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.backend.status["000.00.00.H00-261122-0007"] = 4
	payload, err := qrpayload.FormatReceipt(qrpayload.Receipt{DossierCode: "000.00.00.H00-261122-0007", AgencyCode: "000.00.00.H00", Received: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	r.codes.ch <- barcode.Scan{Payload: payload, Kind: qrpayload.KindReceipt, Content: qrpayload.Parse(payload)}
	st := r.waitScreen(t, ScreenDossierStatus)
	if d := st.Dossier; !d.Found || d.StatusCode != 4 || d.Status.EN != "Being processed" {
		t.Errorf("dossier: %+v", d)
	}
	r.do(t, IntentLookupDossier, map[string]string{"ma_ho_so": "000.00.00.H00-261122-0099"})
	st = r.waitFor(t, "not found", func(st State) bool { return st.Dossier != nil && !st.Dossier.Found })
	r.do(t, IntentFinish, nil)
	r.waitScreen(t, ScreenIdle)
}

func TestInactivityTimeout(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *Options) { o.IdleTimeout = 400 * time.Millisecond; o.WarnBefore = 300 * time.Millisecond })
	st := r.toIdentity(t)
	if st.Timeout == nil || st.Timeout.EndsAt-st.Timeout.WarnAt != 300 {
		t.Fatalf("timeout: %+v", st.Timeout)
	}
	// still_here pushes the deadline out.
	time.Sleep(200 * time.Millisecond)
	r.do(t, IntentStillHere, nil)
	if st2 := r.state(t); st2.Timeout.EndsAt <= st.Timeout.EndsAt {
		t.Errorf("still_here did not extend the deadline")
	}
	r.waitScreen(t, ScreenGoodbye)
	r.assertNoPersonalData(t)
}

func TestPaymentExpiresAndRetries(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *Options) { o.PaymentTimeout = 200 * time.Millisecond })
	r.toIdentity(t)
	r.do(t, IntentConfirmIdentity, nil)
	r.do(t, IntentChooseService, map[string]string{"code": "2.001417"})
	st := r.state(t)
	for _, f := range st.Form.Fields {
		if !f.Locked && f.Required {
			v := "0912345678"
			if f.Type == "select" {
				v = f.Options[0]
			} else if f.Type == "text" {
				v = "Khác"
			}
			r.do(t, IntentSetField, map[string]string{"key": f.Key, "value": v})
		}
	}
	r.do(t, IntentSubmitForm, nil)
	st = r.state(t)
	if st.Screen != ScreenAttachments {
		t.Fatalf("form not accepted: %s", r.m.State())
	}
	r.do(t, IntentScanPage, map[string]int{"attachment": 0})
	r.waitFor(t, "page", func(st State) bool { return !st.Busy && len(st.Attachments.Items[0].Pages) == 1 })
	r.do(t, IntentRemovePage, map[string]int{"attachment": 0, "page": 0})
	if st := r.state(t); len(st.Attachments.Items[0].Pages) != 0 {
		t.Fatal("remove_page left the page")
	}
	r.scan.mu.Lock()
	r.scan.err = &scanner.Error{Fault: scanner.Jammed}
	r.scan.mu.Unlock()
	r.do(t, IntentScanPage, map[string]int{"attachment": 0})
	st = r.waitFor(t, "scan error", func(st State) bool { return !st.Busy && st.Attachments.Error != nil })
	if !strings.Contains(st.Attachments.Error.VI, "kẹt") {
		t.Errorf("jam message: %+v", st.Attachments.Error)
	}
	r.do(t, IntentScanPage, map[string]int{"attachment": 0})
	r.waitFor(t, "page", func(st State) bool { return !st.Busy && len(st.Attachments.Items[0].Pages) == 1 })
	r.do(t, IntentAttachmentsDone, nil)
	r.do(t, IntentAcceptConsent, map[string]string{"version": Consent.Version})
	st = r.waitFor(t, "expired", func(st State) bool { return st.Payment != nil && st.Payment.State == "expired" })
	ref := st.Payment.Reference
	r.do(t, IntentRetry, nil)
	st = r.waitFor(t, "waiting again", func(st State) bool { return st.Payment != nil && st.Payment.State == "waiting" })
	if st.Payment.Reference != ref {
		t.Errorf("a retried payment changed its reference %s -> %s", ref, st.Payment.Reference)
	}
	if err := r.try(IntentBack, nil); intentCode(err) != "wrong_screen" {
		t.Errorf("back while the payment waits: %v", err)
	}
	r.waitFor(t, "expired again", func(st State) bool { return st.Payment != nil && st.Payment.State == "expired" })
	r.do(t, IntentBack, nil)
	r.waitScreen(t, ScreenConsent)
	r.do(t, IntentAcceptConsent, map[string]string{"version": Consent.Version})
	st = r.waitFor(t, "waiting after back", func(st State) bool { return st.Payment != nil && st.Payment.State == "waiting" })
	if st.Payment.Reference != ref {
		t.Errorf("going back changed the payment reference %s -> %s", ref, st.Payment.Reference)
	}
	r.do(t, IntentCancel, nil)
	r.waitScreen(t, ScreenGoodbye)
	r.assertNoPersonalData(t)
	if stats, _ := r.outbox.Stats(context.Background()); stats.Pending != 0 {
		t.Errorf("a cancelled filing reached the outbox")
	}
}

func TestIntentsRefusedOnWrongScreen(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	for _, tt := range []struct {
		name string
		data any
		code string
	}{
		{IntentConfirmIdentity, nil, "wrong_screen"},
		{IntentSetField, map[string]string{"key": "a", "value": "b"}, "wrong_screen"},
		{IntentCancel, nil, "wrong_screen"},
		{"drop_tables", nil, "unknown_intent"},
		{IntentSetLanguage, map[string]string{"lang": "fr"}, "bad_data"},
		{IntentSetLanguage, nil, "bad_data"},
		{IntentHelp, map[string]int{"x": 1}, "bad_data"},
	} {
		if err := r.try(tt.name, tt.data); intentCode(err) != tt.code {
			t.Errorf("%s %v: %v, want %s", tt.name, tt.data, err, tt.code)
		}
	}
	r.do(t, IntentHelp, nil)
	if !r.state(t).Help {
		t.Error("help not shown")
	}
	r.do(t, IntentHelpCancel, nil)
	if r.state(t).Help {
		t.Error("help not cancelled")
	}
}

// FuzzIntent throws arbitrary intents at a machine in the middle of a
// session: every one is either accepted or refused with an IntentError, and
// the machine never panics or stops.
type fakeCabinet struct{ ch chan cabinet.Event }

func (f fakeCabinet) Subscribe() (<-chan cabinet.Event, func()) { return f.ch, func() {} }

func TestHelpButtonCallsStaff(t *testing.T) {
	t.Parallel()
	cab := fakeCabinet{make(chan cabinet.Event, 1)}
	calls := make(chan bool, 4)
	r := newRig(t, func(o *Options) { o.Cabinet = cab; o.OnHelp = func(on bool) { calls <- on } })
	r.toIdentity(t)
	cab.ch <- cabinet.Event{Kind: cabinet.HelpRequested}
	r.waitFor(t, "help shown", func(st State) bool { return st.Help })
	if on := <-calls; !on {
		t.Fatal("OnHelp(false) on a help request")
	}
	r.do(t, IntentCancel, nil)
	st := r.waitScreen(t, ScreenGoodbye)
	if st.Help {
		t.Error("the help request outlived the session")
	}
	if on := <-calls; on {
		t.Fatal("OnHelp(true) at the session's end")
	}
}

func FuzzIntent(f *testing.F) {
	names := make([]string, 0, len(handlers))
	for n := range handlers {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, d := range []string{`{"can":"012345"}`, `{"key":"phone","value":"09"}`, `{"lang":"vi"}`, `{"attachment":0}`,
		`{"attachment":0,"page":-1}`, `null`, `[]`, `{"code":"1.004873"}`, `{"version":"2026-01"}`, `{"ma_ho_so":"A-1"}`} {
		f.Add(uint8(i), d)
	}
	r := newRig(f, nil)
	r.toIdentity(f)
	f.Fuzz(func(t *testing.T, n uint8, data string) {
		name := names[int(n)%len(names)]
		err := r.try(name, json.RawMessage(data))
		var ie *IntentError
		if err != nil && !errors.As(err, &ie) {
			t.Fatalf("%s %q: %v is not an IntentError", name, data, err)
		}
		if r.m.Health().State != "ok" {
			t.Fatalf("machine unhealthy after %s %q", name, data)
		}
	})
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard/testpki"
	"github.com/vnkiosk/kiosk/devices/idcard/virtualcard"
	"github.com/vnkiosk/kiosk/devices/idcard/vpcd"
	"github.com/vnkiosk/kiosk/devices/printer/printersim"
	"github.com/vnkiosk/kiosk/devices/scanner/sanesim"
	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/session"
	"github.com/vnkiosk/kiosk/ui"
)

// vpcdReader0 is the first virtual reader pcscd offers with vpcd.
const vpcdReader0 = "127.0.0.1:35963"

// demoPanel is what the demo panel drives: it puts sample citizens' virtual
// cards on the virtual reader, pays the fee the kiosk waits for, and switches
// the simulators' faults — through the same wire protocols (vpcd, ESC/POS
// status, SANE) the kiosk's drivers see.
type demoPanel struct {
	sims     *demoSimulators
	saneDir  string
	vpcdAddr string
	pkiDir   string
	log      *slog.Logger

	mu       sync.Mutex
	slot     *vpcd.Slot
	inserted string
	faults   map[string]bool
}

// demoFaults are the switches the panel offers.
var demoFaults = []struct {
	name  string
	label session.Text
}{
	{"printer_paper_out", session.Text{VI: "Máy in hết giấy", EN: "Printer out of paper"}},
	{"printer_cover_open", session.Text{VI: "Nắp máy in mở", EN: "Printer cover open"}},
	{"scanner_jammed", session.Text{VI: "Máy quét kẹt giấy", EN: "Scanner paper jam"}},
	{"scanner_no_docs", session.Text{VI: "Máy quét không có giấy", EN: "Scanner has no document"}},
	{"backend_down", session.Text{VI: "Mất kết nối hệ thống tỉnh", EN: "Provincial backend down"}},
}

func newDemoPanel(cfg *config.Config, sims *demoSimulators, vpcdAddr string, log *slog.Logger) (*demoPanel, error) {
	dir, err := virtualcard.DefaultPKIDir(testpki.RSA)
	if err != nil {
		return nil, err
	}
	return &demoPanel{sims: sims, saneDir: cfg.Devices.Scanner.ConfigDir, vpcdAddr: vpcdAddr, pkiDir: dir,
		log: log, faults: map[string]bool{}}, nil
}

// DemoState implements ui.DemoControl.
func (p *demoPanel) DemoState(context.Context) (ui.DemoState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.slot != nil {
		select {
		case <-p.slot.Done():
			p.slot, p.inserted = nil, ""
		default:
		}
	}
	st := ui.DemoState{Inserted: p.inserted}
	for _, name := range virtualcard.SampleNames() {
		doc, err := virtualcard.Sample(name)
		if err != nil {
			return ui.DemoState{}, err
		}
		label := name
		if doc.FullName != nil {
			label = *doc.FullName
		}
		st.Cards = append(st.Cards, ui.DemoCard{Name: name, Label: label})
	}
	for _, f := range demoFaults {
		st.Faults = append(st.Faults, ui.DemoFault{Name: f.name, Label: f.label, On: p.faults[f.name]})
	}
	if b := p.sims.Backend; b != nil {
		if refs := b.PendingPayments(); len(refs) > 0 {
			st.PendingPayment = refs[len(refs)-1]
		}
	}
	return st, nil
}

// DemoAction implements ui.DemoControl.
func (p *demoPanel) DemoAction(ctx context.Context, action, arg string) error {
	switch action {
	case "insert_card":
		return p.insert(ctx, arg)
	case "remove_card":
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.slot == nil {
			return fmt.Errorf("%w: no card is on the reader", ui.ErrDemoRefused)
		}
		p.slot.Remove()
		p.slot, p.inserted = nil, ""
		return nil
	case "pay":
		b := p.sims.Backend
		if b == nil {
			return fmt.Errorf("%w: the demo uses an external backend", ui.ErrDemoRefused)
		}
		refs := b.PendingPayments()
		if len(refs) == 0 {
			return fmt.Errorf("%w: no fee is waiting to be paid", ui.ErrDemoRefused)
		}
		b.Pay(refs[len(refs)-1])
		return nil
	case "fault":
		return p.toggle(arg)
	case "scan_code":
		if p.sims.Barcode == nil {
			return fmt.Errorf("%w: no simulated QR scanner", ui.ErrDemoRefused)
		}
		return p.sims.Barcode.Scan(arg)
	}
	return fmt.Errorf("%w: action %q", ui.ErrDemoNotFound, action)
}

func (p *demoPanel) insert(ctx context.Context, name string) error {
	doc, err := virtualcard.Sample(name)
	if err != nil {
		return fmt.Errorf("%w: sample %q", ui.ErrDemoNotFound, name)
	}
	pki, err := virtualcard.EnsurePKI(p.pkiDir, testpki.RSA)
	if err != nil {
		return err
	}
	card, err := virtualcard.New(virtualcard.Options{Profile: doc, PKI: pki})
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.slot != nil {
		// Swapping cards is a removal then an insertion, as at a real reader.
		p.slot.Remove()
		p.slot = nil
		time.Sleep(300 * time.Millisecond)
	}
	// The slot outlives this request: it stays until removed or the demo ends.
	slot, err := virtualcard.Serve(context.WithoutCancel(ctx), p.vpcdAddr, card)
	if err != nil {
		return fmt.Errorf("insert the card (is pcscd running with vpcd?): %w", err)
	}
	p.slot, p.inserted = slot, name
	return nil
}

func (p *demoPanel) toggle(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	known := false
	for _, f := range demoFaults {
		known = known || f.name == name
	}
	if !known {
		return fmt.Errorf("%w: fault %q", ui.ErrDemoNotFound, name)
	}
	on := !p.faults[name]
	var err error
	switch name {
	case "printer_paper_out", "printer_cover_open":
		if p.sims.Printer == nil {
			return fmt.Errorf("%w: no simulated printer", ui.ErrDemoRefused)
		}
		cond := printersim.OK
		if on {
			cond = map[string]printersim.Condition{"printer_paper_out": printersim.PaperEnd, "printer_cover_open": printersim.CoverOpen}[name]
			// One printer fault at a time: the simulator has one condition.
			p.faults["printer_paper_out"], p.faults["printer_cover_open"] = false, false
		}
		p.sims.Printer.SetCondition(cond)
	case "scanner_jammed", "scanner_no_docs":
		fault := sanesim.NoFault
		if on {
			fault = map[string]sanesim.Fault{"scanner_jammed": sanesim.Jammed, "scanner_no_docs": sanesim.NoDocs}[name]
			p.faults["scanner_jammed"], p.faults["scanner_no_docs"] = false, false
		}
		err = sanesim.Write(p.saneDir, sanesim.Config{Fault: fault})
	case "backend_down":
		if p.sims.Backend == nil {
			return fmt.Errorf("%w: the demo uses an external backend", ui.ErrDemoRefused)
		}
		rate := 0.0
		if on {
			rate = 1
		}
		p.sims.Backend.SetErrorRate(rate)
	}
	if err != nil {
		return fmt.Errorf("fault %s: %w", name, err)
	}
	p.faults[name] = on
	p.log.Info("demo fault switched", "fault", name, "on", on)
	return nil
}

// close removes a card left on the reader when the demo stops.
func (p *demoPanel) close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.slot != nil {
		p.slot.Remove()
		p.slot = nil
	}
}

var _ ui.DemoControl = (*demoPanel)(nil)

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard/pcsc"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc/pcsctest"
	"github.com/vnkiosk/kiosk/devices/idcard/virtualcard"
	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
	"github.com/vnkiosk/kiosk/kiosk/vietqr"
	"github.com/vnkiosk/kiosk/ui/uitest"
)

// demoKiosk is a `kioskd --demo` under test: real pcscd and vpcd, the SANE
// test backend, the printer simulator and the reference backend, reached
// through the URLs it prints.
type demoKiosk struct {
	cmd      *exec.Cmd
	kioskURL string // with the #k= secret
	base     string // http://127.0.0.1:PORT
	key      string
	reader   string // the PC/SC reader the kiosk reads
	stateDir string
	stderr   *bytes.Buffer
}

var urlLine = regexp.MustCompile(`UI:\s+(http://[0-9.:]+)/#k=([0-9a-f]{64})`)

func startDemoKiosk(t testing.TB, args ...string) *demoKiosk {
	t.Helper()
	bin := kiosktest.BuildBinary(t, "github.com/vnkiosk/kiosk/cmd/kioskd")
	// A virtual reader of its own: tests in other packages insert cards too.
	slot := pcsctest.AcquireAny(t)
	dir := kiosktest.ShortTempDir(t)
	k := &demoKiosk{stateDir: filepath.Join(dir, "state"), reader: slot.Reader, stderr: &bytes.Buffer{}}
	k.cmd = exec.Command(bin, "--demo", "--state-dir", k.stateDir, "--ui-listen", "127.0.0.1:0",
		"--metrics-listen", "127.0.0.1:0", "--control-socket", filepath.Join(dir, "c.sock"),
		"--demo-vpcd", slot.Addr, "--demo-reader", slot.Reader)
	k.cmd.Args = append(k.cmd.Args, args...)
	k.cmd.Stderr = k.stderr
	out, err := k.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = k.cmd.Process.Signal(syscall.SIGTERM)
		_ = k.cmd.Wait()
		if t.Failed() {
			t.Logf("kioskd log:\n%s", k.stderr)
		}
	})
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m
			}
		}
	}()
	select {
	case m := <-found:
		k.base, k.key = m[1], m[2]
		k.kioskURL = m[0][strings.Index(m[0], "http"):]
	case <-time.After(20 * time.Second):
		t.Fatalf("kioskd --demo printed no UI URL; log:\n%s", k.stderr)
	}
	return k
}

// demo drives the demo panel's API as the panel page does.
func (k *demoKiosk) demo(t testing.TB, action, arg string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"action": action, "arg": arg})
	req, _ := http.NewRequest(http.MethodPost, k.base+"/demo/api/action", bytes.NewReader(body))
	req.Header.Set("X-Kiosk-Key", k.key)
	req.Header.Set("Origin", k.base)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("demo %s %s: %d %s", action, arg, resp.StatusCode, b)
	}
}

// waitCardPresent waits until pcscd reports a card on the kiosk's reader:
// vpcd is polled, so an insertion takes up to about 400 ms to show.
func (k *demoKiosk) waitCardPresent(t testing.TB) {
	t.Helper()
	// One PC/SC monitor per process at a time (see pcsc.Monitor).
	monitorMu.Lock()
	defer monitorMu.Unlock()
	mon := pcsc.NewMonitor(0)
	events, stop := mon.Subscribe()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go mon.Run(ctx)
	for {
		select {
		case ev := <-events:
			if ev.Kind == pcsc.CardInserted && ev.Reader == k.reader {
				return
			}
		case <-ctx.Done():
			t.Fatalf("pcscd never reported the card on %s", k.reader)
		}
	}
}

var monitorMu sync.Mutex

// kioskPage is a browser on the kiosk's UI, with the checks every screen gets.
type kioskPage struct {
	*uitest.Browser
	t testing.TB
}

func openKiosk(t testing.TB, k *demoKiosk, w, h int) *kioskPage {
	t.Helper()
	b := uitest.Start(t, uitest.Options{Width: w, Height: h})
	if err := b.Open(k.kioskURL); err != nil {
		t.Fatal(err)
	}
	p := &kioskPage{b, t}
	p.screen("idle")
	return p
}

// screen waits for a screen, saves its screenshot and audits it with axe-core.
func (p *kioskPage) screen(name string) {
	p.t.Helper()
	if err := p.WaitScreen(name); err != nil {
		p.t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // let transitions settle for the screenshot
	if _, err := p.Screenshot(name); err != nil {
		p.t.Error(err)
	}
	v, err := p.Axe()
	if err != nil {
		p.t.Fatal(err)
	}
	for _, s := range uitest.SeriousViolations(v) {
		p.t.Errorf("screen %s: accessibility: %s", name, s)
	}
}

func (p *kioskPage) tap(selectors ...string) {
	p.t.Helper()
	for _, s := range selectors {
		if err := p.Tap(s); err != nil {
			p.t.Fatalf("tap %s: %v", s, err)
		}
	}
}

// waitFor polls a JS condition.
func (p *kioskPage) waitFor(what, js string) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ok bool
		if err := p.Eval(js, &ok); err != nil {
			p.t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			html, _ := p.HTML()
			p.t.Fatalf("timed out waiting for %s; page: %.2000s", what, html)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *kioskPage) html() string {
	p.t.Helper()
	h, err := p.HTML()
	if err != nil {
		p.t.Fatal(err)
	}
	return h
}

// noPersonalData checks the page and its JS globals once a session ended.
func (p *kioskPage) noPersonalData(secrets ...string) {
	p.t.Helper()
	var globals string
	if err := p.Eval(`JSON.stringify(Object.keys(window).filter(k => !/^(webkit|on|chrome)/.test(k)).map(k => { try { return k + "=" + JSON.stringify(window[k]) } catch (e) { return k } }))`, &globals); err != nil {
		p.t.Fatal(err)
	}
	html := p.html()
	for _, s := range secrets {
		if strings.Contains(html, s) {
			p.t.Errorf("after the session the page still shows %q", s)
		}
		if strings.Contains(globals, s) {
			p.t.Errorf("after the session a JS global still holds %q", s)
		}
	}
}

func tapDigits(p *kioskPage, digits string) {
	p.t.Helper()
	for _, d := range digits {
		p.tap(fmt.Sprintf(`[data-key="%c"]`, d))
	}
}

// TestTouchscreenWardFiling files a marital-status confirmation the way a
// citizen does, in headless Chromium against `kioskd --demo`: the virtual
// card through pcscd, the CAN on the keypad, the identity check, the form
// with the chip's fields locked, a page from SANE's test scanner, consent,
// the VietQR fee paid at the reference backend, the receipts from the printer
// simulator — then the session ends and nothing personal is left on the page.
// Each screen is screenshotted (build/artefacts) and audited with axe-core.
func TestTouchscreenWardFiling(t *testing.T) {
	t.Parallel()
	k := startDemoKiosk(t)
	p := openKiosk(t, k, 1080, 1920)

	toAttachments(p, k)
	p.tap(`[data-intent="scan_page"][data-attachment="0"]`)
	p.waitFor("a scanned page's preview", `!!document.querySelector('img[src^="data:image/jpeg"]')`)
	p.Screenshot("attachments-scanned")
	p.tap(`[data-intent="attachments_done"]`)
	p.screen("consent")
	p.tap(`[data-intent="accept_consent"]`)
	p.screen("payment")
	p.waitFor("the VietQR code", `!!document.querySelector('img[src^="data:image/png"]')`)
	// What a citizen's banking app sees: the QR on the screen, decoded by zbar
	// from the screenshot, is a valid VietQR for the fee.
	shot, err := p.Screenshot("payment-qr")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := exec.Command("zbarimg", "--raw", "-q", shot).Output()
	if err != nil {
		t.Fatalf("zbarimg on the payment screen: %v (the tests need the Debian package zbar-tools)", err)
	}
	qr, err := vietqr.Decode(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("the QR on screen is not a valid VietQR: %v", err)
	}
	if qr.Amount != 15000 || qr.BIN != "970436" || !strings.HasPrefix(qr.BillNumber, "000.00.00.H00-") {
		t.Errorf("VietQR on screen: %+v", qr)
	}
	k.demo(t, "pay", "")
	p.screen("done")
	p.waitFor("printed receipts", `!!document.querySelector('[data-print="printed"]')`)
	p.Screenshot("done-printed")
	code := regexp.MustCompile(`000\.00\.00\.H00-[0-9]{6}-[0-9]{4}`).FindString(p.html())
	if code == "" || code != qr.BillNumber {
		t.Fatalf("the done screen shows dossier code %q; the fee was paid for %q", code, qr.BillNumber)
	}
	p.tap(`[data-intent="finish"]`)
	p.screen("goodbye")
	p.noPersonalData("Nguyễn Văn An", "001083012345", "0912345678", "data:image/jpeg")
	k.demo(t, "remove_card", "") // goodbye asks for the card until it is taken
	p.screen("idle")
	p.noPersonalData("Nguyễn Văn An", "001083012345", "0912345678", "data:image/jpeg")
	if errs := p.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}

	// The outbox forwards the filing to the reference backend.
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(k.stateDir, "backend-filings.json"))
		if bytes.Contains(b, []byte(code)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the backend never received %s", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
	pages, _ := filepath.Glob(filepath.Join(k.stateDir, "printed", "*.png"))
	if len(pages) != 2 {
		t.Errorf("the printer simulator printed %d tickets, want the dossier receipt and the fee receipt", len(pages))
	}

	// The citizen comes back with the printed receipt: its QR, read off the
	// printed page and scanned at the idle screen, shows the dossier's status.
	var receiptQR string
	for _, pg := range pages {
		out, err := exec.Command("zbarimg", "--raw", "-q", pg).Output()
		if err == nil && strings.HasPrefix(string(out), "HS1|"+code+"|") {
			receiptQR = strings.TrimSpace(string(out))
		}
	}
	if receiptQR == "" {
		t.Fatal("no printed receipt carries the dossier's QR")
	}
	k.demo(t, "scan_code", receiptQR)
	p.screen("dossier_status")
	p.waitFor("the dossier's status", `!!document.querySelector('[data-status-code="1"]') && document.body.textContent.includes(`+"`"+code+"`"+`)`)
}

// toAttachments takes a fresh kiosk page from idle to the attachments screen of
// a marital-status confirmation for the sample citizen Nguyễn Văn An.
func toAttachments(p *kioskPage, k *demoKiosk) {
	p.t.Helper()
	k.demo(p.t, "insert_card", "nguyen-van-an")
	p.screen("card_key")
	tapDigits(p, "012345")
	p.tap(`[data-intent="enter_can"]`)
	p.screen("identity")
	if h := p.html(); !strings.Contains(h, "Nguyễn Văn An") || strings.Contains(h, "001083012345") {
		p.t.Fatal("the identity screen must show the name and never the full ID number")
	}
	p.tap(`[data-intent="confirm_identity"]`)
	p.screen("services")
	p.tap(`[data-intent="choose_service"][data-code="1.004873"]`)
	p.screen("form")
	p.tap(`button[data-field="phone"]`)
	tapDigits(p, "0912345678")
	p.tap(`[data-key="done"]`, `[data-field="purpose"] [data-value="Kết hôn"]`)
	p.waitFor("the phone number in the form", `document.querySelector('[data-field="phone"]').textContent.includes("0912345678")`)
	p.tap(`[data-intent="submit_form"]`)
	p.screen("attachments")
}

// TestTouchscreenDeviceFaults switches the demo panel's faults during a filing:
// a scanner jam says what to do and a second scan works; a printer out of paper
// still files the dossier and tells the citizen to note its code.
func TestTouchscreenDeviceFaults(t *testing.T) {
	t.Parallel()
	k := startDemoKiosk(t)
	p := openKiosk(t, k, 1080, 1920)
	toAttachments(p, k)
	k.demo(t, "fault", "scanner_jammed")
	p.tap(`[data-intent="scan_page"][data-attachment="0"]`)
	p.waitFor("the jam message", `document.body.textContent.includes("kẹt")`)
	p.Screenshot("scanner-jammed")
	k.demo(t, "fault", "scanner_jammed")
	p.tap(`[data-intent="scan_page"][data-attachment="0"]`)
	p.waitFor("a scanned page's preview", `!!document.querySelector('img[src^="data:image/jpeg"]')`)
	p.tap(`[data-intent="attachments_done"]`)
	p.screen("consent")
	p.tap(`[data-intent="accept_consent"]`)
	p.screen("payment")
	k.demo(t, "fault", "printer_paper_out")
	time.Sleep(1500 * time.Millisecond) // the printer's status poll notices
	k.demo(t, "pay", "")
	p.screen("done")
	p.waitFor("the printer notice", `!!document.querySelector('[data-print="failed"]') && document.body.textContent.includes("hết giấy")`)
	p.Screenshot("printer-out-of-paper")
	if !regexp.MustCompile(`000\.00\.00\.H00-[0-9]{6}-[0-9]{4}`).MatchString(p.html()) {
		t.Error("the dossier code must stay on screen when the receipt cannot print")
	}
	// Paper loaded: the spooled receipts print.
	k.demo(t, "fault", "printer_paper_out")
	p.waitFor("receipts printed after the paper came back", `!!document.querySelector('[data-print="printed"]')`)
}

// TestTouchscreenLandscapeEnglishCardPulled runs in landscape and English:
// the card is pulled on the identity screen, which ends the session and takes
// the citizen's data off the page; the Telex keyboard types Vietnamese.
func TestTouchscreenLandscapeEnglishCardPulled(t *testing.T) {
	t.Parallel()
	k := startDemoKiosk(t)
	p := openKiosk(t, k, 1920, 1080)
	for _, c := range []struct{ keys, want string }{
		{"tieengs", "tiếng"}, {"Vieetj", "Việt"}, {"nguyeenx", "nguyễn"}, {"truwowngf", "trường"}, {"ddaf", "đà"}, {"ass", "as"},
	} {
		var got string
		if err := p.Eval(fmt.Sprintf(`window.KioskTelex.type(%q)`, c.keys), &got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("Telex %q typed %q, want %q", c.keys, got, c.want)
		}
	}
	// Staff called from the idle screen: the banner, then cancelled.
	p.tap(`header [data-intent="help"], [data-intent="help"]`)
	p.waitFor("the help banner", `!!document.querySelector('[data-intent="help_cancel"]')`)
	p.screen("idle")
	p.tap(`[data-intent="help_cancel"]`)
	// A receipt's code typed on the lookup screen: unknown to the backend.
	p.tap(`#screen [data-intent="lookup_dossier"]`)
	p.screen("dossier_lookup")
	p.tap(`[data-action="type-code"]`)
	for _, c := range "000.00.00.h00-261122-0009" {
		p.tap(fmt.Sprintf(`[data-key="%c"]`, c))
	}
	p.tap(`[data-key="done"]`)
	p.screen("dossier_status")
	p.tap(`[data-intent="finish"]`)
	p.screen("idle")

	p.tap(`[data-intent="set_language"][data-lang="en"]`)
	p.waitFor("English", `document.documentElement.lang === "en"`)
	doc, err := virtualcard.Sample("tran-thi-mai")
	if err != nil {
		t.Fatal(err)
	}
	k.demo(t, "insert_card", "tran-thi-mai")
	p.screen("card_key")
	tapDigits(p, (*doc.IDNumber)[6:])
	p.tap(`[data-intent="enter_can"]`)
	p.screen("identity")
	if !strings.Contains(p.html(), *doc.FullName) {
		t.Fatal("identity screen without the name")
	}
	k.demo(t, "remove_card", "")
	p.screen("goodbye")
	p.noPersonalData(*doc.FullName, *doc.IDNumber, "data:image/jpeg")
	var lang string
	if err := p.Eval(`document.documentElement.lang`, &lang); err != nil || lang != "vi" {
		t.Errorf("the next citizen should meet Vietnamese, got %q (%v)", lang, err)
	}
	if errs := p.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}

// TestTouchscreenTechnician opens technician mode with the PIN from the idle
// screen, runs the self-test against the demo's devices, looks at the devices
// and the (redacted) logs, prints a test ticket, and leaves.
func TestTouchscreenTechnician(t *testing.T) {
	t.Parallel()
	k := startDemoKiosk(t)
	p := openKiosk(t, k, 1920, 1080)
	p.tap(`[data-intent="technician_login"]`)
	p.screen("staff_pin")
	tapDigits(p, demoTechnicianPIN)
	p.tap(`[data-intent="enter_pin"]`)
	p.screen("technician")
	p.tap(`[data-intent="run_selftest"]`)
	p.waitFor("the self-test's results", `document.querySelectorAll('tr[data-check]').length === 10 && !document.querySelector('[data-running]')`)
	p.screen("technician")
	var failed int
	if err := p.Eval(`document.querySelectorAll('tr[data-check][data-status="fail"]').length`, &failed); err != nil || failed != 0 {
		t.Errorf("self-test on the demo: %d failed (%v): %.3000s", failed, err, p.html())
	}
	p.tap(`[data-intent="tech_panel"][data-panel="devices"]`)
	p.waitFor("the devices", `document.querySelectorAll('tr[data-device]').length >= 6`)
	p.tap(`[data-intent="print_test"]`)
	p.waitFor("the test print", `!!document.querySelector('[data-tech-message="ok"]')`)
	p.tap(`[data-intent="tech_panel"][data-panel="logs"]`)
	p.waitFor("log lines", `document.querySelectorAll('li.log-line').length > 5`)
	p.Screenshot("technician-logs")
	p.tap(`[data-intent="staff_logout"]`)
	p.screen("goodbye")
	if errs := p.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}

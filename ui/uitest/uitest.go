// Package uitest owns the browser side of the kiosk's end-to-end tests: it
// launches Debian's headless chromium from a Go test, drives the touchscreen UI
// the way a visitor does (taps on the centre of data-intent buttons, waits for
// data-screen roots), and collects what a test asserts on afterwards — console
// errors, screenshots saved as artefacts, axe-core accessibility violations and
// first-paint timings. It knows the page's contract (data-screen, data-intent,
// window.KioskUI) but nothing about any particular screen or flow.
package uitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Options configures one browser. The zero value is a portrait kiosk screen.
type Options struct {
	// Width and Height are the viewport in CSS pixels; default 1080x1920.
	Width, Height int
	// Binary is the chromium executable; default $KIOSK_CHROMIUM, else
	// "chromium" from PATH.
	Binary string
	// Timeout bounds everything the test does with this browser; default 60 s.
	Timeout time.Duration
	// StepTimeout bounds one WaitScreen, Tap or FirstPaint; default 10 s. It is
	// shorter than Timeout so that a step that times out still leaves a live
	// browser to ask which screen is shown instead.
	StepTimeout time.Duration
}

const (
	defaultWidth       = 1080
	defaultHeight      = 1920
	defaultTimeout     = 60 * time.Second
	defaultStepTimeout = 10 * time.Second
	// pollInterval is how often WaitScreen and Tap look again; a screen
	// change costs one render frame (~16 ms), so polling finer is waste.
	pollInterval = 25 * time.Millisecond
)

// slots limits live chromium instances in this test binary: each takes
// several processes and ~200 MB, and more than two on a 2-core machine make
// every test slower and the first-paint benchmark meaningless.
var slots = make(chan struct{}, 2)

// Browser is one headless chromium with one tab, owned by one test.
type Browser struct {
	tb       testing.TB
	opts     Options
	tab      context.Context // chromedp context of the tab; lives until cleanup
	deadline time.Time       // start + Options.Timeout
	launched time.Time

	stop      func()
	closeOnce sync.Once

	mu       sync.Mutex
	console  []string
	finished bool // set at cleanup: logging to tb afterwards panics
}

// errMissingChromium is wrapped by findBinary's error; Start turns it into a
// skip or a failure.
var errMissingChromium = errors.New("needs the Debian package chromium (apt-get install chromium)")

// findBinary resolves which chromium to run: o.Binary, else $KIOSK_CHROMIUM,
// else "chromium" on PATH.
func findBinary(o Options) (string, error) {
	name := o.Binary
	if name == "" {
		name = os.Getenv("KIOSK_CHROMIUM")
	}
	if name == "" {
		name = "chromium"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("uitest: chromium %q not found (%v); %w", name, err, errMissingChromium)
	}
	return path, nil
}

// Start launches a headless chromium sized like the kiosk screen, with touch
// input enabled, and kills it (and every process it forked) when the test
// ends. A missing chromium skips the test, or fails it when
// KIOSK_REQUIRE_TOOLS=1 so that CI cannot pass by skipping.
func Start(tb testing.TB, o Options) *Browser {
	tb.Helper()
	if o.Width <= 0 {
		o.Width = defaultWidth
	}
	if o.Height <= 0 {
		o.Height = defaultHeight
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = defaultStepTimeout
	}
	bin, err := findBinary(o)
	if err != nil {
		if os.Getenv("KIOSK_REQUIRE_TOOLS") == "1" {
			tb.Fatal(err)
		}
		tb.Skip(err)
	}

	// TempDir before the cleanup below, so that cleanups (run last-in,
	// first-out) stop chromium before the directory it writes to is removed.
	profile := tb.TempDir()

	slots <- struct{}{}
	b := &Browser{tb: tb, opts: o}
	var output tailBuffer // chromium's stderr, shown only if it fails to start
	var pgid int
	allocOpts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // tests run as root in containers
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		// Without these chromium keeps trying to reach Google's servers.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("password-store", "basic"),
		// The kiosk speaks prompts on screen entry, before anyone touches it.
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("mute-audio", true),
		// Scrollbars would eat into the viewport and change screenshots.
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.WindowSize(o.Width, o.Height),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(&output),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			// Own process group: cleanup kills the zygote and renderers
			// too, which otherwise outlive a killed browser and keep
			// writing into the profile while TempDir removes it.
			// Pdeathsig is what chromedp sets by default.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			b.launched = time.Now()
		}),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	tab, cancelTab := chromedp.NewContext(allocCtx,
		chromedp.WithListener(b.onEvent),
		chromedp.WithErrorf(b.logf),
	)
	b.tab = tab

	b.stop = func() {
		if tb.Failed() && !b.deadline.IsZero() { // only a started browser has a page
			b.saveFailure()
		}
		b.mu.Lock()
		b.finished = true
		b.mu.Unlock()
		// A graceful close lets chromium flush and exit; bound it, then kill
		// whatever is left.
		done := make(chan struct{})
		go func() {
			_ = chromedp.Cancel(tab)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		cancelTab()
		cancelAlloc()
		if pgid > 0 {
			killGroup(pgid)
		}
		<-slots
	}
	tb.Cleanup(b.Close)

	// The first Run starts the browser and must not carry a timeout: its
	// context bounds the browser's whole life.
	type startup struct {
		err error
	}
	started := make(chan startup, 1)
	go func() {
		started <- startup{chromedp.Do(tab,
			chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				// --window-size sizes the window, and headless chromium
				// still takes room for browser UI out of it; the kiosk runs
				// full screen, so pin the viewport itself.
				w, h := int64(o.Width), int64(o.Height)
				if _, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
					Width: w, Height: h, DeviceScaleFactor: 1, ScreenWidth: w, ScreenHeight: h,
				}); err != nil {
					return fmt.Errorf("viewport: %w", err)
				}
				if _, err := cdp.Call(ctx, t, emulation.SetTouchEmulationEnabled,
					emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 5}); err != nil {
					return fmt.Errorf("touch: %w", err)
				}
				return nil
			}),
		)}
	}()
	select {
	case s := <-started:
		if s.err != nil {
			tb.Fatalf("uitest: start %s: %v\nchromium output:\n%s", bin, s.err, output.String())
		}
	case <-time.After(o.Timeout):
		tb.Fatalf("uitest: start %s: no DevTools connection after %v\nchromium output:\n%s", bin, o.Timeout, output.String())
	}
	if c := chromedp.FromContext(tab); c != nil && c.Browser != nil {
		if p := c.Browser.Process(); p != nil {
			pgid = p.Pid // Setpgid makes the group id equal to the pid
		}
	}
	b.deadline = time.Now().Add(o.Timeout)
	return b
}

// Close stops chromium and frees its slot. Start arranges it at test
// cleanup; call it earlier only to launch many browsers in one test, such as a
// benchmark of start-up. Calls after the first do nothing.
func (b *Browser) Close() {
	b.closeOnce.Do(b.stop)
}

// saveFailure keeps a screenshot of the page as it was when the test failed,
// the first thing one wants when an e2e test fails in CI. It gets its own
// short deadline: the test's may be what ran out.
func (b *Browser) saveFailure() {
	ctx, cancel := context.WithTimeout(b.tab, 5*time.Second)
	defer cancel()
	path, err := b.screenshot(ctx, "failure")
	if err != nil {
		b.tb.Logf("uitest: no failure screenshot: %v", err)
		return
	}
	b.tb.Logf("uitest: failure screenshot: %s", path)
}

// killGroup kills every process left in chromium's process group and waits
// briefly for them to die, so that the profile directory can be removed.
func killGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	for range 100 {
		if !groupAlive(pgid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// groupAlive reports whether a process of the group is still running. Killed
// children of chromium are reparented to PID 1 and stay zombies until it
// reaps them, which a container's init may do late; a zombie writes nothing,
// so it does not count.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return syscall.Kill(-pgid, 0) == nil
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces or ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && g == pgid {
			return true
		}
	}
	return false
}

// logf forwards chromedp's own errors to the test log while the test runs.
func (b *Browser) logf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.finished {
		b.tb.Logf("uitest: chromedp: "+format, args...)
	}
}

// onEvent records console errors, uncaught exceptions and browser log errors
// (CSP violations, failed loads). It runs on chromedp's read loop and must
// return fast.
func (b *Browser) onEvent(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		parts := make([]string, 0, len(ev.Args))
		for _, a := range ev.Args {
			parts = append(parts, remoteText(a))
		}
		msg = "console." + string(ev.Type) + ": " + strings.Join(parts, " ")
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		if d == nil {
			return
		}
		msg = "uncaught: " + d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		if d.URL != "" {
			msg += fmt.Sprintf(" (%s:%d:%d)", redactURL(d.URL), d.LineNumber+1, d.ColumnNumber+1)
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry == nil || ev.Entry.Level != cdplog.EntryLevelError {
			return
		}
		// Chromium asks for /favicon.ico by itself; a 404 there is not
		// the page's error.
		if u, err := url.Parse(ev.Entry.URL); err == nil && u.Path == "/favicon.ico" {
			return
		}
		msg = "log." + string(ev.Entry.Source) + ": " + ev.Entry.Text
		if ev.Entry.URL != "" {
			msg += " (" + redactURL(ev.Entry.URL) + ")"
		}
	default:
		return
	}
	b.mu.Lock()
	b.console = append(b.console, msg)
	b.mu.Unlock()
}

// remoteText renders one console.error argument the way DevTools prints it.
func remoteText(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if len(o.Value) > 0 {
		var s string
		if json.Unmarshal(o.Value, &s) == nil {
			return s
		}
		return string(o.Value)
	}
	if o.Description != "" {
		return o.Description
	}
	return string(o.Type)
}

// redactURL drops what may carry a secret before a URL reaches a log line or
// an error: the kiosk URL holds the per-boot UI key in its fragment (#k=...),
// and userinfo or a query may hold credentials.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	if u.Fragment != "" || u.RawFragment != "" {
		u.Fragment, u.RawFragment = "redacted", ""
	}
	return u.String()
}

// ConsoleErrors returns the console errors, uncaught exceptions and browser
// error log entries (CSP violations, failed resource loads) seen so far.
func (b *Browser) ConsoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// LaunchedAt is when the chromium process was exec'ed.
func (b *Browser) LaunchedAt() time.Time { return b.launched }

// ctx returns a context for one call, bounded by the test's overall deadline
// and, when step is true, by StepTimeout as well.
func (b *Browser) ctx(step bool) (context.Context, context.CancelFunc) {
	d := b.deadline
	if step {
		if s := time.Now().Add(b.opts.StepTimeout); s.Before(d) {
			d = s
		}
	}
	return context.WithDeadline(b.tab, d)
}

// Open navigates the tab to url and waits for its load event.
func (b *Browser) Open(url string) error {
	ctx, cancel := b.ctx(false)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("uitest: open %s: %w", redactURL(url), err)
	}
	return nil
}

// Eval evaluates js in the page (not subject to the page's CSP), awaits it if
// it is a promise, and decodes its JSON value into out; out may be nil.
func (b *Browser) Eval(js string, out any) error {
	ctx, cancel := b.ctx(false)
	defer cancel()
	return b.eval(ctx, js, out)
}

func (b *Browser) eval(ctx context.Context, js string, out any) error {
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return fmt.Errorf("uitest: eval: %w", err)
	}
	if out == nil {
		return nil
	}
	if len(raw) == 0 {
		return errors.New("uitest: eval: result is undefined or not serialisable")
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("uitest: eval: decode result: %w", err)
	}
	return nil
}

// HTML returns the document's current outerHTML.
func (b *Browser) HTML() (string, error) {
	var s string
	if err := b.Eval(`document.documentElement.outerHTML`, &s); err != nil {
		return "", fmt.Errorf("uitest: html: %w", err)
	}
	return s, nil
}

// tailBuffer keeps the last few KiB written to it; chromium writes to it from
// its own goroutine.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 8 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailMax {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

package uitest

import (
	"bytes"
	"errors"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// kioskCSP is the policy ui.Server sends (ui.CSP), copied so that the
// fixtures run under exactly what the kiosk page runs under without this
// package depending on the server it tests.
const kioskCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"font-src 'self'; connect-src 'self'; media-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// fixtures serves testdata on 127.0.0.1 with the kiosk's CSP.
func fixtures(t testing.TB) string {
	t.Helper()
	files := http.FileServer(http.Dir("testdata"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", kioskCSP)
		w.Header().Set("Cache-Control", "no-store")
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestFlow(t *testing.T) {
	t.Parallel()
	base := fixtures(t)
	// Short steps: the failure cases below each wait one step out.
	b := Start(t, Options{StepTimeout: 750 * time.Millisecond})

	if err := b.Open(base + "/index.html"); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitScreen("welcome"); err != nil {
		t.Fatal(err)
	}
	fp, err := b.FirstPaint()
	if err != nil {
		t.Fatal(err)
	}
	if fp <= 0 || fp >= 5*time.Second {
		t.Errorf("FirstPaint = %v, want in (0, 5s)", fp)
	}

	for _, tc := range []struct {
		selector, want string
	}{
		{`[data-intent="nope"]`, "element still missing"},
		{`[data-intent="help"]`, "element still disabled"},
		{`[data-intent="covered"]`, "covered by div#veil"},
		{`button[`, "SyntaxError"},
	} {
		err := b.Tap(tc.selector)
		t.Logf("Tap(%s): %v", tc.selector, err)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Tap(%s) = %v, want error containing %q", tc.selector, err, tc.want)
		}
	}

	if err := b.Tap(`[data-intent="start"]`); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitScreen("language"); err != nil {
		t.Fatal(err)
	}
	var pointer string
	if err := b.Eval(`window.lastPointerType`, &pointer); err != nil {
		t.Fatal(err)
	}
	if pointer != "touch" {
		t.Errorf("tap arrived as pointerType %q, want touch", pointer)
	}

	err = b.WaitScreen("welcome")
	t.Logf("WaitScreen(welcome): %v", err)
	if err == nil || !strings.Contains(err.Error(), `window.KioskUI.screen is "language"`) {
		t.Errorf("WaitScreen(welcome) on the language screen = %v, want an error naming language", err)
	}

	html, err := b.HTML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html, `data-screen="language"`) || strings.Contains(html, `data-screen="welcome"`) {
		t.Errorf("HTML does not show the language screen alone:\n%s", html)
	}

	path, err := b.Screenshot("language")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(ArtefactDir(), "TestFlow", "language.png"); path != want {
		t.Errorf("Screenshot path = %s, want %s", path, want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if cfg.Width != defaultWidth || cfg.Height != defaultHeight {
		t.Errorf("screenshot is %dx%d, want %dx%d", cfg.Width, cfg.Height, defaultWidth, defaultHeight)
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Errorf("screenshot does not decode: %v", err)
	}

	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors on a clean page: %q", errs)
	}
}

func TestAxe(t *testing.T) {
	t.Parallel()
	if _, err := AxePath(); err != nil {
		if os.Getenv("KIOSK_REQUIRE_TOOLS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	base := fixtures(t)
	b := Start(t, Options{})

	if err := b.Open(base + "/broken.html"); err != nil {
		t.Fatal(err)
	}
	// The inline script must have been blocked, or the audit below did not
	// run under the kiosk's CSP.
	var inlineRan bool
	if err := b.Eval(`window.inlineRan === true`, &inlineRan); err != nil {
		t.Fatal(err)
	}
	if inlineRan {
		t.Fatal("inline script ran: the fixture server's CSP is not in force")
	}
	v, err := b.Axe()
	if err != nil {
		t.Fatal(err)
	}
	serious := SeriousViolations(v)
	for _, id := range []string{"image-alt", "button-name"} {
		i := slices.IndexFunc(serious, func(x AxeViolation) bool { return x.ID == id })
		if i < 0 {
			t.Errorf("axe on broken.html: no serious %s violation in %v", id, v)
			continue
		}
		if len(serious[i].Nodes) == 0 || serious[i].Help == "" {
			t.Errorf("violation %s lacks nodes or help: %+v", id, serious[i])
		}
	}
	if !slices.ContainsFunc(b.ConsoleErrors(), func(s string) bool { return strings.Contains(s, "Content Security Policy") }) {
		t.Errorf("the blocked inline script is not among the console errors: %q", b.ConsoleErrors())
	}

	if err := b.Open(base + "/index.html"); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitScreen("welcome"); err != nil {
		t.Fatal(err)
	}
	v, err = b.Axe()
	if err != nil {
		t.Fatal(err)
	}
	if s := SeriousViolations(v); len(s) > 0 {
		t.Errorf("axe on the clean fixture: %v", s)
	}
	for _, x := range v {
		t.Logf("minor axe finding on the clean fixture: %v", x)
	}
}

func TestConsoleErrors(t *testing.T) {
	t.Parallel()
	base := fixtures(t)
	b := Start(t, Options{})
	if err := b.Open(base + "/throws.html"); err != nil {
		t.Fatal(err)
	}
	want := []string{"console.error: fixture console error", "uncaught: Uncaught Error: fixture uncaught error"}
	// Events arrive on chromedp's read loop, after the load that Open awaits.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := b.ConsoleErrors()
		missing := slices.DeleteFunc(slices.Clone(want), func(w string) bool {
			return slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) })
		})
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ConsoleErrors = %q, missing %q", got, missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// failedTB reports the test as failed, so that Start's cleanup takes the
// failure path while the real test stays green.
type failedTB struct{ testing.TB }

func (failedTB) Failed() bool { return true }

func TestFailureScreenshot(t *testing.T) {
	t.Parallel()
	base := fixtures(t)
	want := filepath.Join(ArtefactDir(), "TestFailureScreenshot", "failure.png")
	if err := os.Remove(want); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	// Registered before Start, so it runs after Start's cleanup.
	t.Cleanup(func() {
		data, err := os.ReadFile(want)
		if err != nil {
			t.Fatalf("no failure screenshot: %v", err)
		}
		if _, err := png.DecodeConfig(bytes.NewReader(data)); err != nil {
			t.Errorf("failure screenshot is not a PNG: %v", err)
		}
	})
	b := Start(failedTB{t}, Options{Width: 480, Height: 800})
	if err := b.Open(base + "/index.html"); err != nil {
		t.Fatal(err)
	}
}

func TestFindBinary(t *testing.T) {
	t.Parallel()
	_, err := findBinary(Options{Binary: "/nonexistent/chromium"})
	if !errors.Is(err, errMissingChromium) || !strings.Contains(err.Error(), "needs the Debian package chromium") {
		t.Errorf("findBinary(missing) = %v, want the Debian package hint", err)
	}
	sh, err := findBinary(Options{Binary: "sh"})
	if err != nil || !filepath.IsAbs(sh) {
		t.Errorf("findBinary(sh) = %q, %v; want an absolute path", sh, err)
	}
}

func TestArtefactPath(t *testing.T) {
	t.Parallel()
	dir := ArtefactDir()
	for _, tc := range []struct {
		test, name, want string
	}{
		{"TestFlow", "welcome", "TestFlow/welcome.png"},
		{"TestFlow/card_inserted", "step 2", "TestFlow/card_inserted/step_2.png"},
		{"TestX", "../../etc/passwd", "TestX/_.._etc_passwd.png"},
		{"TestX", "", "TestX/_.png"},
	} {
		if got, want := artefactPath(tc.test, tc.name, ".png"), filepath.Join(dir, tc.want); got != want {
			t.Errorf("artefactPath(%q, %q) = %s, want %s", tc.test, tc.name, got, want)
		}
	}
}

func TestArtefactDirDefault(t *testing.T) {
	t.Setenv("KIOSK_ARTEFACTS", "")
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("moduleRoot %s has no go.mod", root)
	}
	if got, want := ArtefactDir(), filepath.Join(root, "build", "artefacts"); got != want {
		t.Errorf("ArtefactDir() = %s, want %s", got, want)
	}
	t.Setenv("KIOSK_ARTEFACTS", "/tmp/elsewhere")
	if got := ArtefactDir(); got != "/tmp/elsewhere" {
		t.Errorf("ArtefactDir() with KIOSK_ARTEFACTS = %s", got)
	}
}

func TestAxePathEnv(t *testing.T) {
	js := filepath.Join(t.TempDir(), "axe.min.js")
	t.Setenv("KIOSK_AXE_JS", js)
	if _, err := AxePath(); err == nil {
		t.Error("AxePath with a missing KIOSK_AXE_JS file: no error")
	}
	if err := os.WriteFile(js, []byte("window.axe = {};"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := AxePath(); err != nil || got != js {
		t.Errorf("AxePath() = %q, %v; want %q", got, err, js)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/"},
		{"http://127.0.0.1:8080/#k=0123abcd", "http://127.0.0.1:8080/#redacted"},
		{"http://u:pw@127.0.0.1/demo?key=s3cret", "http://redacted@127.0.0.1/demo?redacted"},
		{"about:blank", "about:blank"},
	} {
		got := redactURL(tc.in)
		if got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		for _, secret := range []string{"0123abcd", "pw", "s3cret"} {
			if strings.Contains(got, secret) {
				t.Errorf("redactURL(%q) = %q leaks %q", tc.in, got, secret)
			}
		}
	}
}

func TestSeriousViolations(t *testing.T) {
	t.Parallel()
	in := []AxeViolation{
		{ID: "a", Impact: "minor"}, {ID: "b", Impact: "serious"},
		{ID: "c", Impact: "moderate"}, {ID: "d", Impact: "critical"}, {ID: "e"},
	}
	var ids []string
	for _, v := range SeriousViolations(in) {
		ids = append(ids, v.ID)
	}
	if !slices.Equal(ids, []string{"b", "d"}) {
		t.Errorf("SeriousViolations kept %v, want [b d]", ids)
	}
}

// BenchmarkFirstPaintSinceLaunch measures exec'ing chromium to the first
// contentful paint of a simple page, one fresh browser per iteration:
//
//	go test -run '^$' -bench FirstPaintSinceLaunch -benchtime 5x ./ui/uitest/
func BenchmarkFirstPaintSinceLaunch(b *testing.B) {
	base := fixtures(b)
	var total, fcpTotal time.Duration
	for i := 0; b.Loop(); i++ {
		br := Start(b, Options{})
		if err := br.Open(base + "/index.html"); err != nil {
			b.Fatal(err)
		}
		d, err := br.FirstPaintSinceLaunch()
		if err != nil {
			b.Fatal(err)
		}
		fcp, err := br.FirstPaint()
		if err != nil {
			b.Fatal(err)
		}
		br.Close()
		b.Logf("run %d: launch→FCP %v (navigation→FCP %v)", i+1, d.Round(time.Millisecond), fcp.Round(time.Millisecond))
		total += d
		fcpTotal += fcp
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-launch-to-fcp")
	b.ReportMetric(float64(fcpTotal.Milliseconds())/float64(b.N), "ms-nav-to-fcp")
}

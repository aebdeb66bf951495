package ui

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestServesAssetsWithCSP(t *testing.T) {
	t.Parallel()
	h := New(Options{}).Handler()
	for _, p := range []string{"/", "/style.css", "/app.js", "/i18n.json"} {
		r := httptest.NewRequest("GET", p, nil)
		r.Host = "127.0.0.1:8080"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s = %d", p, w.Code)
		}
		if got := w.Header().Get("Content-Security-Policy"); got != CSP {
			t.Errorf("GET %s CSP = %q", p, got)
		}
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s Cache-Control = %q", p, got)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "localhost:8080"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if !strings.Contains(w.Body.String(), "Vui lòng đặt thẻ căn cước") {
		t.Error("idle screen text missing")
	}
}

func TestServesI18nCatalogue(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "/i18n.json", nil)
	r.Host = "127.0.0.1:8080"
	w := httptest.NewRecorder()
	New(Options{}).Handler().ServeHTTP(w, r)
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /i18n.json = %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	var m map[string]map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("i18n.json is not {key: {lang: text}}: %v", err)
	}
	for k, v := range m {
		if strings.HasPrefix(k, "say.") && (v["vi"] == "" || v["en"] == "") {
			t.Errorf("%s lacks a vi or en sentence", k)
		}
	}
	if m["say.idle"]["vi"] == "" {
		t.Error("say.idle missing")
	}
}

func TestRejectsForeignHost(t *testing.T) {
	t.Parallel()
	h := New(Options{}).Handler()
	for _, host := range []string{"evil.example", "evil.example:8080", "10.0.0.5:8080", "127.0.0.1.nip.io:8080"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden {
			t.Errorf("Host %q answered %d, want 403", host, w.Code)
		}
	}
	for _, host := range []string{"127.0.0.1", "[::1]:8080", "LOCALHOST:8080"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Errorf("Host %q answered %d, want 200", host, w.Code)
		}
	}
}

func TestDemoAssetsHiddenWithoutDemo(t *testing.T) {
	t.Parallel()
	h := New(Options{}).Handler()
	for _, p := range []string{"/demo", "/demo.html", "/demo.js", "/demo/api/state"} {
		r := httptest.NewRequest("GET", p, nil)
		r.Host = "127.0.0.1:8080"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s without demo = %d, want 404", p, w.Code)
		}
	}
}

func TestRefusesNonLoopbackListen(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "nonsense"} {
		if err := New(Options{Addr: addr}).Start(context.Background()); err == nil {
			t.Errorf("Start(%q) succeeded, want a refusal", addr)
		}
	}
}

func TestURLs(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{}, nil)
	re := regexp.MustCompile(`^http://127\.0\.0\.1:[1-9][0-9]*/$`)
	if !re.MatchString(s.URL()) {
		t.Fatalf("URL() = %q", s.URL())
	}
	if got, want := s.KioskURL(), s.URL()+"#k="+testSecret; got != want {
		t.Errorf("KioskURL() = %q, want %q", got, want)
	}
	if got, want := s.DemoURL(), s.URL()+"demo#k="+testSecret; got != want {
		t.Errorf("DemoURL() = %q, want %q", got, want)
	}
	if h := s.Health(); h.State != "ok" {
		t.Errorf("Health() = %+v, want ok", h)
	}
}

func TestEmbeddedI18nParses(t *testing.T) {
	t.Parallel()
	if _, err := fs.Stat(webFS, "web/i18n.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := loadI18n(); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestServesAssetsWithCSP(t *testing.T) {
	t.Parallel()
	h := Handler()
	for _, p := range []string{"/", "/style.css", "/app.js"} {
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
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "localhost:8080"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if !strings.Contains(w.Body.String(), "Vui lòng đặt thẻ căn cước") {
		t.Error("idle screen text missing")
	}
}

func TestRejectsForeignHost(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"evil.example", "evil.example:8080", "10.0.0.5:8080", "127.0.0.1.nip.io:8080"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		w := httptest.NewRecorder()
		Handler().ServeHTTP(w, r)
		if w.Code != http.StatusForbidden {
			t.Errorf("Host %q answered %d, want 403", host, w.Code)
		}
	}
	for _, host := range []string{"127.0.0.1", "[::1]:8080", "LOCALHOST:8080"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		w := httptest.NewRecorder()
		Handler().ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Errorf("Host %q answered %d, want 200", host, w.Code)
		}
	}
}

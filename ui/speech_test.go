package ui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

type fakeSpeaker struct {
	mu     sync.Mutex
	spoken []string // "lang|text"
}

func (f *fakeSpeaker) Speak(_ context.Context, lang, text string) ([]byte, error) {
	f.mu.Lock()
	f.spoken = append(f.spoken, lang+"|"+text)
	f.mu.Unlock()
	return []byte("RIFF" + lang + text), nil
}

func (f *fakeSpeaker) Cue(name string) ([]byte, bool) {
	if name == "card" || name == "tap" {
		return []byte("RIFFcue-" + name), true
	}
	return nil, false
}

func TestSpeechAndSounds(t *testing.T) {
	t.Parallel()
	sp := &fakeSpeaker{}
	s := New(Options{Speech: sp})
	idleVI := s.i18n["say.idle"]["vi"]
	idleEN := s.i18n["say.idle"]["en"]
	nonSay := "btn.not_a_sentence"
	for k := range s.i18n {
		if !strings.HasPrefix(k, "say.") {
			nonSay = k // a real label key, if the catalogue has one
			break
		}
	}
	cases := []struct {
		path string
		want int
		body string
	}{
		{"/speech/vi/say.idle.wav", http.StatusOK, "RIFFvi" + idleVI},
		{"/speech/en/say.idle.wav", http.StatusOK, "RIFFen" + idleEN},
		{"/speech/vi/say.no_such_screen.wav", http.StatusNotFound, ""},
		{"/speech/vi/" + nonSay + ".wav", http.StatusNotFound, ""},
		{"/speech/fr/say.idle.wav", http.StatusNotFound, ""},
		{"/speech/vi/say.idle.mp3", http.StatusNotFound, ""},
		{"/speech/vi/say.idle", http.StatusNotFound, ""},
		{"/sounds/card.wav", http.StatusOK, "RIFFcue-card"},
		{"/sounds/tap.wav", http.StatusOK, "RIFFcue-tap"},
		{"/sounds/printed.wav", http.StatusNotFound, ""}, // the speaker has none
		{"/sounds/bell.wav", http.StatusNotFound, ""},
		{"/sounds/card.mp3", http.StatusNotFound, ""},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.Host = "127.0.0.1:8080"
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("GET %s = %d, want %d", tc.path, w.Code, tc.want)
			continue
		}
		if tc.want != http.StatusOK {
			continue
		}
		if w.Body.String() != tc.body {
			t.Errorf("GET %s body %q, want %q", tc.path, w.Body.String(), tc.body)
		}
		if ct := w.Header().Get("Content-Type"); ct != "audio/wav" {
			t.Errorf("GET %s Content-Type %q", tc.path, ct)
		}
		if cc := w.Header().Get("Cache-Control"); cc != "max-age=86400" {
			t.Errorf("GET %s Cache-Control %q", tc.path, cc)
		}
	}
	if len(sp.spoken) != 2 {
		t.Errorf("speaker asked for %q, want only the two say.idle sentences", sp.spoken)
	}
}

func TestSpeechWithoutSpeakerIs503(t *testing.T) {
	t.Parallel()
	h := New(Options{}).Handler()
	for _, p := range []string{"/speech/vi/say.idle.wav", "/sounds/card.wav"} {
		r := httptest.NewRequest("GET", p, nil)
		r.Host = "127.0.0.1:8080"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("GET %s without speaker = %d, want 503", p, w.Code)
		}
	}
}

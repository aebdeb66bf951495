package ui

import (
	"net/http"
	"strconv"
	"strings"
)

// cueNames are the cue sounds State.cue can name.
var cueNames = map[string]bool{"card": true, "printed": true, "error": true, "tap": true}

// audioCache lets the browser keep spoken sentences and cues for a day: they
// change only with a new build, and a re-fetch costs an espeak-ng run.
const audioCache = "max-age=86400"

// serveSpeech answers GET /speech/{lang}/{key}.wav with the spoken form of
// i18n[key][lang]; only the "say.*" instructions can be spoken, so the route
// never renders arbitrary text.
func (s *Server) serveSpeech(w http.ResponseWriter, r *http.Request) {
	if s.opt.Speech == nil {
		http.Error(w, "speech unavailable", http.StatusServiceUnavailable)
		return
	}
	lang := r.PathValue("lang")
	key, ok := strings.CutSuffix(r.PathValue("file"), ".wav")
	if !ok || (lang != "vi" && lang != "en") || !strings.HasPrefix(key, "say.") {
		http.NotFound(w, r)
		return
	}
	text := s.i18n[key][lang]
	if text == "" {
		http.NotFound(w, r)
		return
	}
	wav, err := s.opt.Speech.Speak(r.Context(), lang, text)
	if err != nil {
		s.log.Warn("ui: speech failed", "key", key, "lang", lang, "err", err)
		http.Error(w, "speech failed", http.StatusInternalServerError)
		return
	}
	writeWAV(w, wav)
}

// serveSound answers GET /sounds/{name}.wav with a cue sound.
func (s *Server) serveSound(w http.ResponseWriter, r *http.Request) {
	if s.opt.Speech == nil {
		http.Error(w, "sounds unavailable", http.StatusServiceUnavailable)
		return
	}
	name, ok := strings.CutSuffix(r.PathValue("file"), ".wav")
	if !ok || !cueNames[name] {
		http.NotFound(w, r)
		return
	}
	wav, ok := s.opt.Speech.Cue(name)
	if !ok {
		http.NotFound(w, r)
		return
	}
	writeWAV(w, wav)
}

func writeWAV(w http.ResponseWriter, wav []byte) {
	h := w.Header()
	h.Set("Content-Type", "audio/wav")
	h.Set("Content-Length", strconv.Itoa(len(wav)))
	h.Set("Cache-Control", audioCache)
	_, _ = w.Write(wav)
}

// Package speech owns the kiosk's spoken guidance for people who read little:
// it renders a screen's main instruction to a WAV with espeak-ng (the Debian
// package, Vietnamese voice "vi" and English "en"), caches each sentence in
// memory and optionally on disk so the speaker button answers at once, and
// synthesises the short cue sounds (card read, printed, error, tap) in Go.
// Text reaches espeak-ng only on its standard input, never through a shell or
// as an argument, so no sentence can be read as an option.
package speech

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Errors Speak and New wrap, for callers that map them to responses.
var (
	ErrNotInstalled = errors.New("espeak-ng is not installed (install the Debian package espeak-ng)")
	ErrUnknownLang  = errors.New("no voice for language")
	ErrBadText      = errors.New("text cannot be spoken")
)

// Defaults for Options fields left zero.
const (
	DefaultBinary  = "espeak-ng"
	DefaultMaxText = 300
	DefaultTimeout = 10 * time.Second
	// DefaultSpeed is in words per minute; espeak-ng's own 175 is quick for
	// elderly listeners.
	DefaultSpeed = 150
)

// memEntries bounds the in-memory cache; the daemon speaks a few dozen fixed
// sentences, so this is only a guard against a caller that makes up text.
const memEntries = 256

// maxWAV bounds what one rendering may produce: 300 runes of speech is well
// under a minute, about 2.6 MB at 22050 Hz.
const maxWAV = 16 << 20

// DefaultVoices maps the kiosk's UI languages to espeak-ng voices.
func DefaultVoices() map[string]string { return map[string]string{"vi": "vi", "en": "en"} }

// Options configures a Speaker. The zero value is usable.
type Options struct {
	Binary   string            // espeak-ng executable; default "espeak-ng" from PATH
	Voices   map[string]string // UI language → espeak-ng voice; default DefaultVoices()
	CacheDir string            // on-disk cache owned by the Speaker (made 0700, files 0600); "" = memory only
	MaxText  int               // longest text in runes; default 300
	Timeout  time.Duration     // per rendering; default 10 s
	Speed    int               // words per minute, espeak-ng -s; default 150
	Log      *slog.Logger      // nil discards
}

// Speaker renders and caches spoken sentences. It is safe for concurrent use.
type Speaker struct {
	bin      string
	voices   map[string]string
	cacheDir string
	maxText  int
	timeout  time.Duration
	speed    int
	log      *slog.Logger

	mu       sync.Mutex
	mem      map[string][]byte
	order    []string // keys of mem, oldest first
	inflight map[string]*render
}

// render is one rendering in progress; waiters block on done.
type render struct {
	done chan struct{}
	wav  []byte
	err  error
}

// New checks the options and that espeak-ng can be found. It does not run
// espeak-ng: the first Speak of each sentence does.
func New(o Options) (*Speaker, error) {
	s := &Speaker{
		bin:      o.Binary,
		cacheDir: o.CacheDir,
		maxText:  o.MaxText,
		timeout:  o.Timeout,
		speed:    o.Speed,
		log:      o.Log,
		mem:      make(map[string][]byte),
		inflight: make(map[string]*render),
	}
	if s.bin == "" {
		s.bin = DefaultBinary
	}
	if s.maxText == 0 {
		s.maxText = DefaultMaxText
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.speed == 0 {
		s.speed = DefaultSpeed
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case s.maxText < 0:
		return nil, fmt.Errorf("speech: MaxText %d is negative", s.maxText)
	case s.timeout < 0:
		return nil, fmt.Errorf("speech: Timeout %v is negative", s.timeout)
	case s.speed < 80 || s.speed > 450: // espeak-ng's accepted range
		return nil, fmt.Errorf("speech: Speed %d words per minute is outside 80..450", s.speed)
	}
	voices := o.Voices
	if voices == nil {
		voices = DefaultVoices()
	}
	s.voices = make(map[string]string, len(voices))
	for lang, voice := range voices {
		// A voice is an argv element after -v; keep it to a plain name.
		if voice == "" || voice[0] == '-' || strings.ContainsFunc(voice, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '+' || r == '/' || r == '.' ||
				('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9'))
		}) {
			return nil, fmt.Errorf("speech: voice %q for language %q is not a plain espeak-ng voice name", voice, lang)
		}
		s.voices[lang] = voice
	}
	path, err := exec.LookPath(s.bin)
	if err != nil {
		return nil, fmt.Errorf("speech: %w: %w", ErrNotInstalled, err)
	}
	s.bin = path
	if s.cacheDir != "" {
		if err := os.MkdirAll(s.cacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("speech: cache directory: %w", err)
		}
		// The directory may predate us (systemd's CacheDirectory= makes it
		// 0755); it is ours alone.
		if err := os.Chmod(s.cacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("speech: cache directory: %w", err)
		}
	}
	return s, nil
}

// Speak returns text spoken in the voice for lang as a WAV (16-bit mono PCM,
// 22050 Hz for espeak-ng's voices), rendering it on first use and from the
// cache afterwards. Concurrent calls for one sentence share one rendering,
// which runs to completion (bounded by Options.Timeout) even if ctx ends
// first, so the next caller finds it cached. The caller owns the result.
func (s *Speaker) Speak(ctx context.Context, lang, text string) ([]byte, error) {
	voice, ok := s.voices[lang]
	if !ok {
		return nil, fmt.Errorf("speech: %w %q", ErrUnknownLang, lang)
	}
	if err := s.checkText(text); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("speech: %w", err)
	}
	key := cacheKey(voice, text)

	s.mu.Lock()
	if wav, ok := s.mem[key]; ok {
		s.mu.Unlock()
		return slices.Clone(wav), nil
	}
	r, ok := s.inflight[key]
	if !ok {
		r = &render{done: make(chan struct{})}
		s.inflight[key] = r
		go s.fill(key, voice, text, r)
	}
	s.mu.Unlock()

	select {
	case <-r.done:
		if r.err != nil {
			return nil, r.err
		}
		return slices.Clone(r.wav), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("speech: waiting for rendering: %w", ctx.Err())
	}
}

// checkText refuses what the daemon would never ask to speak: its sentences
// are fixed, short and printable.
func (s *Speaker) checkText(text string) error {
	switch {
	case strings.TrimSpace(text) == "":
		return fmt.Errorf("speech: %w: empty", ErrBadText)
	case !utf8.ValidString(text):
		return fmt.Errorf("speech: %w: not UTF-8", ErrBadText)
	case strings.ContainsFunc(text, unicode.IsControl):
		return fmt.Errorf("speech: %w: control character", ErrBadText)
	}
	if n := utf8.RuneCountInString(text); n > s.maxText {
		return fmt.Errorf("speech: %w: %d runes, at most %d", ErrBadText, n, s.maxText)
	}
	return nil
}

// cacheKey names a sentence in both caches. Speed is not part of it: a kiosk
// that changes Options.Speed should empty its CacheDir.
func cacheKey(voice, text string) string {
	sum := sha256.Sum256([]byte(voice + "\x00" + text))
	return hex.EncodeToString(sum[:])
}

// fill produces one sentence, from disk or espeak-ng, publishes it to the
// memory cache and wakes the waiters.
func (s *Speaker) fill(key, voice, text string, r *render) {
	wav, fromDisk := s.readDisk(key)
	if wav == nil {
		wav, r.err = s.renderWAV(key, voice, text)
	}
	if r.err == nil && !fromDisk {
		s.writeDisk(key, wav)
	}
	r.wav = wav

	s.mu.Lock()
	delete(s.inflight, key)
	if r.err == nil {
		s.mem[key] = wav
		s.order = append(s.order, key)
		for len(s.order) > memEntries {
			delete(s.mem, s.order[0])
			s.order = s.order[1:]
		}
	}
	s.mu.Unlock()
	close(r.done)
}

// renderWAV runs espeak-ng once. The text goes on standard input so that
// nothing in it can be taken as an option.
func (s *Speaker) renderWAV(key, voice, text string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin,
		"-v", voice, "-s", strconv.Itoa(s.speed),
		"-b", "1", // input is UTF-8 whatever the locale
		"--stdout")
	cmd.Stdin = strings.NewReader(text)
	out := limitedBuffer{max: maxWAV}
	stderr := limitedBuffer{max: 512, truncate: true}
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.WaitDelay = time.Second
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("speech: espeak-ng voice %s: no audio after %v: %w", voice, s.timeout, ctx.Err())
	case out.overflow:
		return nil, fmt.Errorf("speech: espeak-ng voice %s: output over %d bytes", voice, maxWAV)
	case err != nil:
		return nil, fmt.Errorf("speech: espeak-ng voice %s: %w: %s", voice, err, strings.TrimSpace(stderr.String()))
	}
	wav, err := fixWAVSizes(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("speech: espeak-ng voice %s output: %w", voice, err)
	}
	d, _ := Duration(wav) // parsed just above
	if d == 0 {
		return nil, fmt.Errorf("speech: espeak-ng voice %s produced no audio", voice)
	}
	// The sentence itself is not logged: only its key, which identifies it
	// to someone who has the same fixed sentences.
	s.log.Debug("speech rendered", "voice", voice, "key", key[:12], "audio", d, "took", took)
	return wav, nil
}

func (s *Speaker) diskPath(key string) string {
	return filepath.Join(s.cacheDir, key+".wav")
}

// readDisk returns a cached rendering, or nil. A file that does not parse is
// treated as missing and replaced by the next write.
func (s *Speaker) readDisk(key string) ([]byte, bool) {
	if s.cacheDir == "" {
		return nil, false
	}
	b, err := os.ReadFile(s.diskPath(key))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("speech cache read failed", "key", key[:12], "err", err)
		}
		return nil, false
	}
	if d, err := Duration(b); err != nil || d == 0 {
		s.log.Warn("speech cache file is not audio; rendering again", "key", key[:12])
		return nil, false
	}
	return b, true
}

// writeDisk stores a rendering atomically (temporary file, then rename), so
// a reader never sees half a file. Failure only costs a later re-render.
func (s *Speaker) writeDisk(key string, wav []byte) {
	if s.cacheDir == "" {
		return
	}
	err := func() error {
		f, err := os.CreateTemp(s.cacheDir, ".tmp-*.wav") // mode 0600
		if err != nil {
			return err
		}
		defer os.Remove(f.Name()) // no-op after a successful rename
		if _, err := f.Write(wav); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Rename(f.Name(), s.diskPath(key))
	}()
	if err != nil {
		s.log.Warn("speech cache write failed", "key", key[:12], "err", err)
	}
}

// limitedBuffer collects output up to max bytes, so a runaway child cannot
// grow the daemon's memory without bound. Past max it fails the write, or,
// with truncate (for diagnostics), keeps the first max bytes and drops the rest.
type limitedBuffer struct {
	bytes.Buffer
	max      int
	truncate bool
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		b.overflow = true
		if !b.truncate {
			return 0, io.ErrShortWrite
		}
		b.Buffer.Write(p[:max(0, b.max-b.Len())])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

package speech

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// requireEspeak returns the real espeak-ng, or skips (fails under
// KIOSK_REQUIRE_TOOLS=1, as in CI, where the Makefile installs it).
func requireEspeak(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("espeak-ng")
	if err != nil {
		if os.Getenv("KIOSK_REQUIRE_TOOLS") == "1" {
			t.Fatalf("needs the Debian package espeak-ng: %v", err)
		}
		t.Skip("needs the Debian package espeak-ng (KIOSK_REQUIRE_TOOLS=1 makes this a failure)")
	}
	return path
}

// fakeEspeak writes an executable shell script standing in for espeak-ng that
// appends its argv to a log, one line per run, and then runs body. It returns
// the script's path and a function reading the log.
func fakeEspeak(t *testing.T, body string) (string, func() []string) {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "calls")
	bin := filepath.Join(dir, "espeak-ng")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> '%s'\n%s\n", logPath, body)
	// Written by a child process, not with os.WriteFile: a parallel test
	// forking while this process held the script open for writing would
	// inherit that descriptor until its exec, and exec'ing the script in that
	// window fails with "text file busy" (ETXTBSY).
	cmd := exec.Command("/bin/sh", "-c", `cat > "$1" && chmod 700 "$1"`, "sh", bin)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("write the fake espeak-ng: %v: %s", err, out)
	}
	return bin, func() []string {
		b, err := os.ReadFile(logPath)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
}

// countingEspeak is fakeEspeak in front of the real espeak-ng, after an
// optional delay that widens races on purpose.
func countingEspeak(t *testing.T, delay time.Duration) (string, func() []string) {
	t.Helper()
	real := requireEspeak(t)
	body := fmt.Sprintf("exec '%s' \"$@\"", real)
	if delay > 0 {
		body = fmt.Sprintf("sleep %.3f\n%s", delay.Seconds(), body)
	}
	return fakeEspeak(t, body)
}

func newSpeaker(t testing.TB, o Options) *Speaker {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sayTexts reads the spoken sentences the screens use: keys "say.*" in the
// UI's i18n table, each with a vi and an en text.
func sayTexts(t testing.TB) map[string]map[string]string {
	t.Helper()
	b, err := os.ReadFile("../web/i18n.json")
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]map[string]string
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatalf("i18n.json: %v", err)
	}
	say := make(map[string]map[string]string)
	for k, v := range all {
		if strings.HasPrefix(k, "say.") {
			say[k] = v
		}
	}
	if len(say) == 0 {
		t.Fatal("i18n.json has no say.* keys")
	}
	return say
}

func TestSpeakSayTexts(t *testing.T) {
	t.Parallel()
	requireEspeak(t)
	s := newSpeaker(t, Options{})
	for key, texts := range sayTexts(t) {
		for _, lang := range []string{"vi", "en"} {
			text := texts[lang]
			t.Run(key+"/"+lang, func(t *testing.T) {
				t.Parallel()
				if text == "" {
					t.Fatalf("%s has no %s text", key, lang)
				}
				wav, err := s.Speak(context.Background(), lang, text)
				if err != nil {
					t.Fatal(err)
				}
				f, err := parseWAV(wav)
				if err != nil {
					t.Fatal(err)
				}
				if f.channels != 1 || f.bits != 16 || f.rate != 22050 {
					t.Errorf("format %d ch %d bit %d Hz, want mono 16 bit 22050 Hz", f.channels, f.bits, f.rate)
				}
				if got := binary.LittleEndian.Uint32(wav[f.dataOff-4:]); int(got) != len(wav)-f.dataOff {
					t.Errorf("data size in header %d, want the real %d", got, len(wav)-f.dataOff)
				}
				d, err := Duration(wav)
				if err != nil {
					t.Fatal(err)
				}
				// Calibrated on espeak-ng 1.51 at 150 wpm: about 13-17 runes a second.
				n := utf8.RuneCountInString(text)
				lo := max(500*time.Millisecond, time.Duration(n)*time.Second/25)
				hi := time.Duration(n) * time.Second / 4
				if d < lo || d > hi {
					t.Errorf("%d runes spoke for %v, want %v..%v", n, d, lo, hi)
				}
				t.Logf("%s %s: %d runes, %v (%.1f runes/s)", key, lang, n, d.Round(10*time.Millisecond), float64(n)/d.Seconds())
			})
		}
	}
}

func TestSpeakCacheSkipsEspeak(t *testing.T) {
	t.Parallel()
	bin, calls := countingEspeak(t, 0)
	s := newSpeaker(t, Options{Binary: bin})
	ctx := context.Background()
	const text = "Vui lòng đặt thẻ căn cước lên đầu đọc"
	first, err := s.Speak(ctx, "vi", text)
	if err != nil {
		t.Fatal(err)
	}
	keep := slices.Clone(first)
	first[100] ^= 0xFF // the caller owns its copy; the cache must not change
	second, err := s.Speak(ctx, "vi", text)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(keep, second) {
		t.Error("cached rendering differs from the first")
	}
	if n := len(calls()); n != 1 {
		t.Errorf("espeak-ng ran %d times for one sentence, want 1", n)
	}
	// Another voice is another sentence.
	if _, err := s.Speak(ctx, "en", text); err != nil {
		t.Fatal(err)
	}
	if n := len(calls()); n != 2 {
		t.Errorf("espeak-ng ran %d times for two voices, want 2", n)
	}
}

func TestSpeakConcurrentRendersOnce(t *testing.T) {
	t.Parallel()
	bin, calls := countingEspeak(t, 200*time.Millisecond)
	s := newSpeaker(t, Options{Binary: bin})
	const n = 16
	results := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = s.Speak(context.Background(), "vi", "Đang đọc thẻ, vui lòng chờ")
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(results[i], results[0]) {
			t.Errorf("caller %d got different audio", i)
		}
	}
	if got := len(calls()); got != 1 {
		t.Errorf("espeak-ng ran %d times for %d concurrent calls, want 1", got, n)
	}
}

func TestSpeakCancelledWaiterLeavesRenderingCached(t *testing.T) {
	t.Parallel()
	bin, calls := countingEspeak(t, 300*time.Millisecond)
	s := newSpeaker(t, Options{Binary: bin})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Speak(ctx, "vi", "Xin cảm ơn"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Speak with an expiring context: %v, want DeadlineExceeded", err)
	}
	if _, err := s.Speak(context.Background(), "vi", "Xin cảm ơn"); err != nil {
		t.Fatal(err)
	}
	if got := len(calls()); got != 1 {
		t.Errorf("espeak-ng ran %d times, want 1: the abandoned rendering should have been kept", got)
	}
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := s.Speak(cancelled, "vi", "Tạm biệt"); !errors.Is(err, context.Canceled) {
		t.Errorf("Speak with a cancelled context: %v, want Canceled", err)
	}
}

func TestSpeakDiskCache(t *testing.T) {
	t.Parallel()
	bin, calls := countingEspeak(t, 0)
	dir := filepath.Join(t.TempDir(), "speech")
	if err := os.Mkdir(dir, 0o755); err != nil { // as systemd's CacheDirectory= leaves it
		t.Fatal(err)
	}
	const text = "Đã nộp hồ sơ."
	ctx := context.Background()
	first, err := newSpeaker(t, Options{Binary: bin, CacheDir: dir}).Speak(ctx, "vi", text)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache directory: %v, mode %v, want 0700", err, fi.Mode().Perm())
	}
	file := filepath.Join(dir, cacheKey("vi", text)+".wav")
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatalf("cache file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %v, want 0600", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("cache directory holds %d entries, want just the one file", len(entries))
	}

	// A new Speaker (a restarted daemon) reads the file instead of running espeak-ng.
	again, err := newSpeaker(t, Options{Binary: bin, CacheDir: dir}).Speak(ctx, "vi", text)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Error("disk cache returned different audio")
	}
	if got := len(calls()); got != 1 {
		t.Errorf("espeak-ng ran %d times across two Speakers, want 1", got)
	}

	// A damaged file is rendered again and replaced.
	if err := os.WriteFile(file, []byte("not audio"), 0o600); err != nil {
		t.Fatal(err)
	}
	repaired, err := newSpeaker(t, Options{Binary: bin, CacheDir: dir}).Speak(ctx, "vi", text)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, repaired) || len(calls()) != 2 {
		t.Errorf("damaged cache file: equal=%v, espeak-ng runs %d, want equal audio and 2 runs",
			bytes.Equal(first, repaired), len(calls()))
	}
	if b, _ := os.ReadFile(file); !bytes.Equal(b, first) {
		t.Error("damaged cache file was not replaced")
	}
}

func TestSpeakMemoryCacheEvictsOldest(t *testing.T) {
	t.Parallel()
	// A tiny valid WAV, so that hundreds of renderings stay fast.
	bin, calls := fakeEspeak(t, `printf 'RIFF\050\000\000\000WAVEfmt \020\000\000\000\001\000\001\000\042\126\000\000\104\254\000\000\002\000\020\000data\004\000\000\000\001\000\002\000'`)
	s := newSpeaker(t, Options{Binary: bin})
	ctx := context.Background()
	for i := range memEntries + 4 {
		if _, err := s.Speak(ctx, "vi", fmt.Sprint("câu ", i)); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Lock()
	held := len(s.mem)
	s.mu.Unlock()
	if held != memEntries {
		t.Errorf("memory cache holds %d sentences, want %d", held, memEntries)
	}
	before := len(calls())
	if _, err := s.Speak(ctx, "vi", fmt.Sprint("câu ", memEntries+3)); err != nil || len(calls()) != before {
		t.Errorf("newest sentence: %v, espeak-ng runs %d -> %d, want it cached", err, before, len(calls()))
	}
	if _, err := s.Speak(ctx, "vi", "câu 0"); err != nil || len(calls()) != before+1 {
		t.Errorf("oldest sentence: %v, espeak-ng runs %d -> %d, want it evicted and rendered again", err, before, len(calls()))
	}
}

func TestSpeakRefuses(t *testing.T) {
	t.Parallel()
	// No rendering should start, so a fake that only logs is enough.
	bin, calls := fakeEspeak(t, "exit 1")
	s := newSpeaker(t, Options{Binary: bin, MaxText: 20})
	tests := []struct {
		name, lang, text string
		want             error
	}{
		{"unknown language", "fr", "Bonjour", ErrUnknownLang},
		{"empty language", "", "Xin chào", ErrUnknownLang},
		{"voice name as language", "vi-vn-x-south", "Xin chào", ErrUnknownLang},
		{"empty", "vi", "", ErrBadText},
		{"blank", "vi", " \u00a0 ", ErrBadText},
		{"newline", "vi", "Xin\nchào", ErrBadText},
		{"NUL", "vi", "Xin\x00chào", ErrBadText},
		{"escape", "vi", "\x1b[31mXin chào", ErrBadText},
		{"C1 control", "vi", "Xin\u0085chào", ErrBadText},
		{"invalid UTF-8", "vi", "Xin \xffchào", ErrBadText},
		{"21 runes", "vi", strings.Repeat("ă", 21), ErrBadText},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wav, err := s.Speak(context.Background(), tt.lang, tt.text)
			if !errors.Is(err, tt.want) || wav != nil {
				t.Errorf("Speak(%q, %q) = %d bytes, %v; want %v", tt.lang, tt.text, len(wav), err, tt.want)
			}
		})
	}
	t.Cleanup(func() {
		if c := calls(); len(c) != 0 {
			t.Errorf("refused text still ran espeak-ng: %q", c)
		}
	})
}

func TestSpeakMaxTextBoundary(t *testing.T) {
	t.Parallel()
	bin, _ := countingEspeak(t, 0)
	s := newSpeaker(t, Options{Binary: bin, MaxText: 20})
	// 20 runes but 40 bytes: the limit counts runes.
	if _, err := s.Speak(context.Background(), "vi", strings.Repeat("ă", 20)); err != nil {
		t.Errorf("20 runes with MaxText 20: %v", err)
	}
}

func TestSpeakLeadingDashIsText(t *testing.T) {
	t.Parallel()
	bin, calls := countingEspeak(t, 0)
	s := newSpeaker(t, Options{Binary: bin})
	out := filepath.Join(t.TempDir(), "hijack.wav")
	for _, text := range []string{
		"--help",
		"-w " + out + " xin chào",
		"--stdout -v en hello",
		"-- -x",
	} {
		wav, err := s.Speak(context.Background(), "en", text)
		if err != nil {
			t.Errorf("Speak(%q): %v", text, err)
			continue
		}
		// Spoken as words, so its length grows with the text; --help as an
		// option would print usage and no audio at all.
		if d, err := Duration(wav); err != nil || d < 300*time.Millisecond {
			t.Errorf("Speak(%q): %v of audio, %v", text, d, err)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("text %q was taken as an option: %v", "-w "+out, err)
	}
	for _, argv := range calls() {
		if argv != "-v en -s 150 -b 1 --stdout" {
			t.Errorf("espeak-ng argv %q, want only options (text on stdin)", argv)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	bin, _ := fakeEspeak(t, "exit 0")
	tests := []struct {
		name    string
		o       Options
		wantErr string // "" = succeeds
		is      error
	}{
		{"missing absolute binary", Options{Binary: filepath.Join(t.TempDir(), "espeak-ng")},
			"install the Debian package espeak-ng", ErrNotInstalled},
		{"missing binary on PATH", Options{Binary: "espeak-ng-not-installed-here"},
			"install the Debian package espeak-ng", ErrNotInstalled},
		{"voice like an option", Options{Binary: bin, Voices: map[string]string{"vi": "-w/tmp/x"}}, "voice", nil},
		{"voice with a space", Options{Binary: bin, Voices: map[string]string{"vi": "vi x"}}, "voice", nil},
		{"empty voice", Options{Binary: bin, Voices: map[string]string{"vi": ""}}, "voice", nil},
		{"speed too low", Options{Binary: bin, Speed: 20}, "Speed", nil},
		{"negative MaxText", Options{Binary: bin, MaxText: -1}, "MaxText", nil},
		{"negative Timeout", Options{Binary: bin, Timeout: -time.Second}, "Timeout", nil},
		{"southern voice", Options{Binary: bin, Voices: map[string]string{"vi": "vi-vn-x-south", "en": "en-us"}}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := New(tt.o)
			if tt.wantErr == "" {
				if err != nil || s == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New: %v, want an error mentioning %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("New: %v does not wrap %v", err, tt.is)
			}
		})
	}
}

func TestSpeakRenderFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		script  string
		timeout time.Duration
		want    string
		is      error
	}{
		{"voice missing", "echo 'Error: The specified espeak-ng voice does not exist.' >&2; exit 1", 0,
			"voice does not exist", nil},
		{"not a WAV", "echo garbage", 0, "output", ErrNotWAV},
		{"header only", `printf 'RIFF\044\000\000\000WAVEfmt \020\000\000\000\001\000\001\000\042\126\000\000\104\254\000\000\002\000\020\000data\000\000\000\000'`,
			0, "no audio", nil},
		{"hangs", "exec sleep 10", 200 * time.Millisecond, "no audio after", context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bin, calls := fakeEspeak(t, tt.script)
			s := newSpeaker(t, Options{Binary: bin, Timeout: tt.timeout})
			start := time.Now()
			for range 2 {
				_, err := s.Speak(context.Background(), "vi", "Xin chào")
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Speak: %v, want an error mentioning %q", err, tt.want)
				}
				if tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("Speak: %v does not wrap %v", err, tt.is)
				}
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("two failing renderings took %v", took)
			}
			if n := len(calls()); n != 2 {
				t.Errorf("espeak-ng ran %d times for two calls, want 2: failures must not be cached", n)
			}
		})
	}
}

// samples16 returns the samples of a 16-bit mono WAV.
func samples16(t *testing.T, wav []byte) []int16 {
	t.Helper()
	f, err := parseWAV(wav)
	if err != nil {
		t.Fatal(err)
	}
	if f.channels != 1 || f.bits != 16 || f.rate != cueRate {
		t.Fatalf("cue format %d ch %d bit %d Hz", f.channels, f.bits, f.rate)
	}
	s := make([]int16, f.dataLen/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(wav[f.dataOff+2*i:]))
	}
	return s
}

// dominantHz estimates the main frequency from zero crossings over the
// sounding samples (cue gaps are exact zeros).
func dominantHz(s []int16) float64 {
	crossings, sounding := 0, 0
	for i := 1; i < len(s); i++ {
		if s[i] != 0 {
			sounding++
		}
		if (s[i-1] < 0 && s[i] >= 0) || (s[i-1] >= 0 && s[i] < 0) {
			crossings++
		}
	}
	return float64(crossings) / 2 / (float64(sounding) / cueRate)
}

func TestCues(t *testing.T) {
	t.Parallel()
	if got, want := Cues(), []string{"card", "error", "printed", "tap"}; !slices.Equal(got, want) {
		t.Fatalf("Cues() = %q, want %q", got, want)
	}
	var s *Speaker // cues need no espeak-ng
	tests := []struct {
		name   string
		dur    time.Duration
		hz     float64 // expected dominant frequency, ±15%
		lowest bool
	}{
		{"card", 180 * time.Millisecond, 770, false},
		{"printed", 460 * time.Millisecond, 1290, false},
		{"error", 380 * time.Millisecond, 220, true},
		{"tap", 30 * time.Millisecond, 2000, false},
	}
	type measured struct {
		dur time.Duration
		hz  float64
	}
	got := make(map[string]measured)
	for _, tt := range tests {
		wav, ok := s.Cue(tt.name)
		if !ok {
			t.Fatalf("Cue(%q) missing", tt.name)
		}
		d, err := Duration(wav)
		if err != nil {
			t.Fatalf("Duration(%s): %v", tt.name, err)
		}
		if diff := d - tt.dur; diff < -time.Millisecond || diff > time.Millisecond {
			t.Errorf("%s lasts %v, want %v", tt.name, d, tt.dur)
		}
		samples := samples16(t, wav)
		hz := dominantHz(samples)
		if math.Abs(hz-tt.hz) > 0.15*tt.hz {
			t.Errorf("%s dominant frequency ≈ %.0f Hz, want ≈ %.0f Hz", tt.name, hz, tt.hz)
		}
		peak := 0
		for _, v := range samples {
			peak = max(peak, abs(int(v)))
		}
		if peak < math.MaxInt16/5 || peak >= math.MaxInt16 {
			t.Errorf("%s peaks at %d of %d: too quiet or clipping", tt.name, peak, math.MaxInt16)
		}
		// The 5 ms fades: silence at both ends, no jump in the first or last samples.
		for _, i := range []int{0, 1, len(samples) - 2, len(samples) - 1} {
			if abs(int(samples[i])) > math.MaxInt16/100 {
				t.Errorf("%s sample %d = %d: no fade", tt.name, i, samples[i])
			}
		}
		got[tt.name] = measured{d, hz}
		t.Logf("%s: %v, ≈ %.0f Hz", tt.name, d, hz)
	}
	// Every pair must be told apart by ear: by length or by pitch.
	for i, a := range tests {
		for _, b := range tests[i+1:] {
			ma, mb := got[a.name], got[b.name]
			dd := ma.dur - mb.dur
			ratio := max(ma.hz, mb.hz) / min(ma.hz, mb.hz)
			if dd > -50*time.Millisecond && dd < 50*time.Millisecond && ratio < 1.25 {
				t.Errorf("%s and %s are too alike: %v vs %v, %.0f vs %.0f Hz", a.name, b.name, ma.dur, mb.dur, ma.hz, mb.hz)
			}
		}
	}
	if wav, ok := s.Cue("beep"); ok || wav != nil {
		t.Error("Cue(beep) found a sound")
	}
	w1, _ := s.Cue("tap")
	w1[50] ^= 0xFF
	if w2, _ := s.Cue("tap"); bytes.Equal(w1, w2) {
		t.Error("changing a returned cue changed the next one")
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// wavHeader builds a header with explicit fields, for parser tests.
func wavHeader(tag, channels uint16, rate uint32, bits uint16, riffSize, dataSize uint32, extra ...[]byte) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	binary.Write(&b, le, riffSize)
	b.WriteString("WAVEfmt ")
	binary.Write(&b, le, uint32(16))
	align := channels * bits / 8
	for _, v := range []any{tag, channels, rate, rate * uint32(align), align, bits} {
		binary.Write(&b, le, v)
	}
	for _, e := range extra {
		b.Write(e)
	}
	b.WriteString("data")
	binary.Write(&b, le, dataSize)
	return b.Bytes()
}

func TestDuration(t *testing.T) {
	t.Parallel()
	second := make([]byte, 44100)                          // one second of 16-bit mono at 22050 Hz
	list := append([]byte("LIST\x05\x00\x00\x00INFOx"), 0) // odd size, padded
	tests := []struct {
		name string
		wav  []byte
		want time.Duration
		err  bool
	}{
		{"canonical", encodeWAV(make([]int16, 11025), 22050), 500 * time.Millisecond, false},
		{"espeak pipe placeholder", append(wavHeader(1, 1, 22050, 16, 0x7FFFF024, 0x7FFFF000), second...), time.Second, false},
		{"size all ones", append(wavHeader(1, 1, 22050, 16, 0xFFFFFFFF, 0xFFFFFFFF), second...), time.Second, false},
		{"size zero", append(wavHeader(1, 1, 22050, 16, 0, 0), second...), time.Second, false},
		{"chunk before data", append(wavHeader(1, 1, 22050, 16, 0, 44100, list), second...), time.Second, false},
		{"trailing chunk", append(append(wavHeader(1, 1, 22050, 16, 0, 22050), second...), list...), 500 * time.Millisecond, false},
		{"stereo 8 bit", append(wavHeader(1, 2, 8000, 8, 0, 16000), make([]byte, 16000)...), time.Second, false},
		{"partial frame", append(wavHeader(1, 1, 22050, 16, 0, 0), make([]byte, 3)...), time.Second / 22050, false},
		{"no samples", wavHeader(1, 1, 22050, 16, 36, 0), 0, false},
		{"empty", nil, 0, true},
		{"not RIFF", []byte("RIFX\x00\x00\x00\x00WAVE"), 0, true},
		{"not WAVE", []byte("RIFF\x00\x00\x00\x00AVI "), 0, true},
		{"no data chunk", wavHeader(1, 1, 22050, 16, 0, 0)[:36], 0, true},
		{"float samples", append(wavHeader(3, 1, 22050, 32, 0, 0), second...), 0, true},
		{"zero rate", append(wavHeader(1, 1, 0, 16, 0, 0), second...), 0, true},
		{"zero channels", append(wavHeader(1, 0, 22050, 16, 0, 0), second...), 0, true},
		{"12 bit", append(wavHeader(1, 1, 22050, 12, 0, 0), second...), 0, true},
		{"data before fmt", []byte("RIFF\x00\x00\x00\x00WAVEdata\x02\x00\x00\x00\x00\x00"), 0, true},
		{"short fmt", []byte("RIFF\x00\x00\x00\x00WAVEfmt \x08\x00\x00\x00\x01\x00\x01\x00\x22\x56\x00\x00"), 0, true},
		{"chunk past end", []byte("RIFF\x00\x00\x00\x00WAVELIST\xff\x00\x00\x00abc"), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := Duration(tt.wav)
			if tt.err {
				if err == nil || !errors.Is(err, ErrNotWAV) {
					t.Errorf("Duration = %v, %v; want an ErrNotWAV error", d, err)
				}
				return
			}
			if err != nil || d != tt.want {
				t.Errorf("Duration = %v, %v; want %v", d, err, tt.want)
			}
		})
	}
}

func TestFixWAVSizes(t *testing.T) {
	t.Parallel()
	wav := append(wavHeader(1, 1, 22050, 16, 0x7FFFF024, 0x7FFFF000), make([]byte, 1001)...)
	fixed, err := fixWAVSizes(wav)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if len(fixed) != 44+1000 || le.Uint32(fixed[4:]) != 36+1000 || le.Uint32(fixed[40:]) != 1000 {
		t.Errorf("fixed: %d bytes, RIFF size %d, data size %d; want 1044, 1036, 1000",
			len(fixed), le.Uint32(fixed[4:]), le.Uint32(fixed[40:]))
	}
}

func FuzzDuration(f *testing.F) {
	f.Add([]byte{})
	f.Add(encodeWAV([]int16{1, -1, 2}, 22050))
	f.Add(append(wavHeader(1, 1, 22050, 16, 0x7FFFF024, 0x7FFFF000), 1, 2, 3))
	f.Add(append(wavHeader(0xFFFE, 2, 44100, 24, 0, 0), make([]byte, 12)...))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVELIST\x01\x00\x00\x00a\x00fmt "))
	for _, name := range Cues() {
		wav := cueWAVs[name]
		f.Add(slices.Clone(wav[:min(len(wav), 64)]))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Duration(b)
		if err != nil {
			if !errors.Is(err, ErrNotWAV) {
				t.Fatalf("error %v does not wrap ErrNotWAV", err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("negative duration %v", d)
		}
		// Rewriting the sizes must keep the file playable for the same time.
		fixed, err := fixWAVSizes(slices.Clone(b))
		if err != nil {
			t.Fatalf("fixWAVSizes on a WAV Duration accepted: %v", err)
		}
		if d2, err := Duration(fixed); err != nil || d2 != d {
			t.Fatalf("after fixWAVSizes: %v, %v; before %v", d2, err, d)
		}
	})
}

func BenchmarkSpeakCached(b *testing.B) {
	requireEspeak(b)
	s := newSpeaker(b, Options{})
	ctx := context.Background()
	const text = "Vui lòng đặt thẻ căn cước lên đầu đọc"
	if _, err := s.Speak(ctx, "vi", text); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Speak(ctx, "vi", text); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSpeakUncached(b *testing.B) {
	requireEspeak(b)
	ctx := context.Background()
	const text = "Vui lòng đặt thẻ căn cước lên đầu đọc"
	var audio time.Duration
	for b.Loop() {
		s := newSpeaker(b, Options{}) // memory cache only, so every round runs espeak-ng
		wav, err := s.Speak(ctx, "vi", text)
		if err != nil {
			b.Fatal(err)
		}
		audio, _ = Duration(wav)
	}
	b.ReportMetric(audio.Seconds(), "audio-s")
}

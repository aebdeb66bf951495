package scanner

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestParseStderr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want event
	}{
		{"Scanning page 3", event{kind: evPageStart, page: 3}},
		{"Progress: 45.3%", event{kind: evProgress, percent: 45.3}},
		{"Progress: 100.0%", event{kind: evProgress, percent: 100}},
		{"Progress: 250.0%", event{kind: evProgress, percent: 100}},
		{"Progress: (unknown)", event{kind: evProgress, percent: -1}},
		{"Progress: NaN%", event{kind: evOther, message: "Progress: NaN%"}},
		{"Progress: 12", event{kind: evOther, message: "Progress: 12"}},
		{"Place document no. 2 on the scanner.", event{kind: evPrompt, page: 2}},
		{"scanimage: sane_read: Document feeder jammed", event{kind: evSANEError, op: "read", message: "Document feeder jammed"}},
		{"scanimage: sane_start: Document feeder out of documents", event{kind: evSANEError, op: "start", message: "Document feeder out of documents"}},
		{"scanimage: open of device test:7 failed: Invalid argument", event{kind: evSANEError, op: "open", message: "Invalid argument"}},
		{"/usr/bin/scanimage: open of device net:host:epson2:libusb:001:004 failed: Device busy", event{kind: evSANEError, op: "open", message: "Device busy"}},
		{"scanimage: received signal 13", event{kind: evSignal, page: 13}},
		{"scanimage: received signal 999", event{kind: evOther, message: "scanimage: received signal 999"}},
		{"scanimage: rounded value of resolution from 151 to 150", event{kind: evRounded, option: "resolution", value: 150}},
		{"scanimage: rounded value of br-x from 210 to 200", event{kind: evRounded, option: "br-x", value: 200}},
		{"scanimage: rounded value of br-x from 210 to x", event{kind: evOther, message: "scanimage: rounded value of br-x from 210 to x"}},
		{"Scanned page 1. (scanner status = 5)", event{kind: evOther, message: "Scanned page 1. (scanner status = 5)"}},
		{"Scanning page -1", event{kind: evOther, message: "Scanning page -1"}},
		{"Scanning page 99999999999999999999", event{kind: evOther, message: "Scanning page 99999999999999999999"}},
		{"  Batch terminated, 3 pages scanned  ", event{kind: evOther, message: "Batch terminated, 3 pages scanned"}},
	}
	for _, tc := range tests {
		if got := parseStderr(tc.line); got != tc.want {
			t.Errorf("parseStderr(%q) = %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

func TestScanLines(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", maxLine+100)
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"progress rewrites with CR", "Scanning page 1\nProgress: 1.0%\rProgress: 2.0%\r\nScanned page 1.\n",
			[]string{"Scanning page 1", "Progress: 1.0%", "Progress: 2.0%", "Scanned page 1."}},
		{"no final newline", "a\nb", []string{"a", "b"}},
		{"empty lines skipped", "\n\r\n\ra\n\n", []string{"a"}},
		{"long line cut", long + "\nnext", []string{long[:maxLine], "next"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// One byte at a time as well as whole: lines must not depend on reads.
			for _, r := range []func() []string{
				func() []string { return collect(t, strings.NewReader(tc.in)) },
				func() []string { return collect(t, iotest.OneByteReader(strings.NewReader(tc.in))) },
			} {
				if got := r(); strings.Join(got, "|") != strings.Join(tc.want, "|") {
					t.Errorf("got %q, want %q", got, tc.want)
				}
			}
		})
	}
	errBoom := errors.New("boom")
	if err := scanLines(iotest.ErrReader(errBoom), func(string) {}); !errors.Is(err, errBoom) {
		t.Errorf("read error: %v", err)
	}
}

// TestScanLinesDoesNotWaitForNewline: a progress line ends in '\r' and the next
// may come seconds later; it must be handed over at once.
func TestScanLinesDoesNotWaitForNewline(t *testing.T) {
	t.Parallel()
	r, w := io.Pipe()
	lines := make(chan string)
	go func() {
		_ = scanLines(r, func(l string) { lines <- l })
		close(lines)
	}()
	for _, l := range []string{"Progress: 1.0%", "Progress: 2.0%"} {
		if _, err := w.Write([]byte(l + "\r")); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-lines:
			if got != l {
				t.Errorf("got %q, want %q", got, l)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%q not delivered while the writer waits", l)
		}
	}
	w.Close()
	if l, ok := <-lines; ok {
		t.Errorf("extra line %q", l)
	}
}

func collect(t *testing.T, r interface{ Read([]byte) (int, error) }) []string {
	t.Helper()
	var lines []string
	if err := scanLines(r, func(l string) { lines = append(lines, l) }); err != nil {
		t.Fatal(err)
	}
	return lines
}

// FuzzParseStderr: whatever scanimage or a backend prints, parsing never panics
// and yields only values the scan loop can use without checking again.
func FuzzParseStderr(f *testing.F) {
	for _, s := range []string{
		"Progress: 45.3%", "Scanning page 2", "Place document no. 3 on the scanner.",
		"scanimage: sane_read: Document feeder jammed", "scanimage: open of device x failed: Invalid argument",
		"scanimage: rounded value of resolution from 151 to 1e308", "Progress: -Inf%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		ev := parseStderr(line)
		switch ev.kind {
		case evProgress:
			if ev.percent != -1 && (ev.percent < 0 || ev.percent > 100) {
				t.Fatalf("percent %v", ev.percent)
			}
		case evPageStart, evPrompt:
			if ev.page < 0 || ev.page > 1_000_000 {
				t.Fatalf("page %d", ev.page)
			}
		case evRounded:
			if !finite(ev.value) {
				t.Fatalf("value %v", ev.value)
			}
		}
	})
}

// FuzzScanLines: no line is longer than maxLine or holds a line break, and
// every non-break byte of short input comes through.
func FuzzScanLines(f *testing.F) {
	f.Add([]byte("a\r\nb\rc\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var total int
		err := scanLines(strings.NewReader(string(in)), func(l string) {
			if len(l) == 0 || len(l) > maxLine || strings.ContainsAny(l, "\r\n") {
				t.Fatalf("line %q", l)
			}
			total += len(l)
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := len(in) - strings.Count(string(in), "\r") - strings.Count(string(in), "\n"); len(in) < maxLine && total != want {
			t.Fatalf("%d bytes in lines, want %d", total, want)
		}
	})
}

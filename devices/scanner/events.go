package scanner

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
)

// eventKind is one thing scanimage reports on stderr (or, for pageFile, stdout).
type eventKind int

const (
	evOther     eventKind = iota // a line kept only as context for errors
	evPageStart                  // "Scanning page N"
	evProgress                   // "Progress: X%" for the current page
	evPrompt                     // "Place document no. N on the scanner." (--batch-prompt)
	evSANEError                  // "scanimage: sane_read: MSG", sane_start, or "open of device D failed: MSG"
	evRounded                    // "scanimage: rounded value of OPTION from A to B"
	evSignal                     // "scanimage: received signal N" (page holds N)
	evPageFile                   // a --batch-print line on stdout: the page file is complete
	evEOF                        // one of scanimage's output streams ended
)

type event struct {
	kind    eventKind
	page    int     // evPageStart, evPrompt; evSignal: the signal number
	percent float64 // evProgress: 0..100, or -1 when the backend cannot tell
	op      string  // evSANEError: "open", "start" or "read"
	message string  // evSANEError: the SANE status text; evOther: the line
	option  string  // evRounded
	value   float64 // evRounded: what the backend chose
	file    string  // evPageFile
}

// maxLine bounds one line of scanimage output; a longer one is cut, not buffered.
const maxLine = 4096

// parseStderr parses one line of scanimage's stderr, as LC_ALL=C prints it. The
// formats are scanimage's own printf strings (sane-backends frontend/scanimage.c).
func parseStderr(line string) event {
	line = strings.TrimSpace(line)
	if rest, ok := strings.CutPrefix(line, "Progress: "); ok {
		if rest == "(unknown)" {
			return event{kind: evProgress, percent: -1}
		}
		if f, err := strconv.ParseFloat(strings.TrimSuffix(rest, "%"), 64); err == nil && strings.HasSuffix(rest, "%") && !math.IsNaN(f) {
			return event{kind: evProgress, percent: min(max(f, 0), 100)}
		}
	}
	if rest, ok := strings.CutPrefix(line, "Scanning page "); ok {
		if n, ok := pageNumber(rest); ok {
			return event{kind: evPageStart, page: n}
		}
	}
	if rest, ok := strings.CutPrefix(line, "Place document no. "); ok {
		if n, ok := pageNumber(strings.TrimSuffix(rest, " on the scanner.")); ok && strings.HasSuffix(rest, " on the scanner.") {
			return event{kind: evPrompt, page: n}
		}
	}
	// Error lines start with the program name, which is argv[0]'s base name.
	if _, rest, ok := strings.Cut(line, ": "); ok {
		if msg, ok := strings.CutPrefix(rest, "sane_read: "); ok {
			return event{kind: evSANEError, op: "read", message: msg}
		}
		if msg, ok := strings.CutPrefix(rest, "sane_start: "); ok {
			return event{kind: evSANEError, op: "start", message: msg}
		}
		if dev, ok := strings.CutPrefix(rest, "open of device "); ok {
			if i := strings.LastIndex(dev, " failed: "); i >= 0 {
				return event{kind: evSANEError, op: "open", message: dev[i+len(" failed: "):]}
			}
		}
		if n, ok := strings.CutPrefix(rest, "received signal "); ok {
			if sig, ok := pageNumber(n); ok && sig < 128 {
				return event{kind: evSignal, page: sig}
			}
		}
		if r, ok := strings.CutPrefix(rest, "rounded value of "); ok {
			// "resolution from 151 to 150"
			opt, vals, ok1 := strings.Cut(r, " from ")
			_, to, ok2 := strings.Cut(vals, " to ")
			if f, err := strconv.ParseFloat(to, 64); ok1 && ok2 && err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				return event{kind: evRounded, option: opt, value: f}
			}
		}
	}
	return event{kind: evOther, message: line}
}

// pageNumber parses a page number, bounded so no later arithmetic overflows.
func pageNumber(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0 && n <= 1_000_000
}

// scanLines calls fn with each line of r, lines ending at '\n' or '\r' (the
// progress counter rewrites its line with '\r', so a line may end without a
// newline for as long as a page takes), empty lines skipped, each cut to
// maxLine bytes. It hands over each line as soon as its end arrives. It
// returns r's error, nil at EOF.
func scanLines(r io.Reader, fn func(string)) error {
	buf := make([]byte, maxLine)
	var line []byte
	for {
		n, err := r.Read(buf)
		for chunk := buf[:n]; len(chunk) > 0; {
			i := bytes.IndexAny(chunk, "\r\n")
			end := i
			if i < 0 {
				end = len(chunk)
			}
			if room := maxLine - len(line); room > 0 {
				line = append(line, chunk[:min(room, end)]...)
			}
			if i < 0 {
				break
			}
			if len(line) > 0 {
				fn(string(line))
			}
			line = line[:0]
			chunk = chunk[i+1:]
		}
		if err != nil {
			if len(line) > 0 {
				fn(string(line))
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

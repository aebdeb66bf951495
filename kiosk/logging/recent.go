package logging

import (
	"bytes"
	"sync"
)

// Recent keeps the last lines the log wrote, for the technician screen: the
// lines have been through redaction already, so showing them on the kiosk's
// own screen shows nothing the journal does not. Write it beside stderr with
// io.MultiWriter.
type Recent struct {
	mu    sync.Mutex
	lines []string
	next  int
	full  bool
	part  []byte // a line not yet ended
}

// NewRecent keeps the last n lines.
func NewRecent(n int) *Recent { return &Recent{lines: make([]string, max(1, n))} }

// Write implements io.Writer; it never fails.
func (r *Recent) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			// Bound a runaway unterminated line.
			r.part = append(r.part, p[:min(len(p), 16<<10-len(r.part))]...)
			break
		}
		line := string(append(r.part, p[:i]...))
		r.part = r.part[:0]
		p = p[i+1:]
		r.lines[r.next] = line
		r.next = (r.next + 1) % len(r.lines)
		r.full = r.full || r.next == 0
	}
	return n, nil
}

// Lines returns the kept lines, oldest first.
func (r *Recent) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]string(nil), r.lines[:r.next]...)
	}
	return append(append([]string(nil), r.lines[r.next:]...), r.lines[:r.next]...)
}

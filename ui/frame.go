package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"time"
)

// Protocol constants of kiosk.v1 (docs/ws-protocol.md).
const (
	subprotocol     = "kiosk.v1"
	keyProtocol     = "kiosk.key."
	protocolVersion = 1

	maxFrame     = 8 << 10 // bytes of a client frame the server decodes
	hardMaxFrame = 1 << 20 // a bigger frame closes the connection (1009)
	maxIntentLen = 64      // bytes of an intent name
	maxIDLen     = 32      // bytes of a frame id
	ctrlQueue    = 32      // acks, errors and pongs waiting for the writer

	rateLimit     = 20  // frames per second, sustained
	rateBurst     = 40  // frames at once
	maxDrops      = 200 // dropped frames tolerated within dropWindow
	dropWindow    = 10 * time.Second
	rateErrPeriod = time.Second // at most one rate_limited error per period
)

// Error codes of error frames; the session's IntentError codes pass through.
const (
	codeBadMessage  = "bad_message"
	codeTooLarge    = "too_large"
	codeRateLimited = "rate_limited"
	codeUnknownType = "unknown_type"
	codeUnavailable = "unavailable"
)

// Websocket close codes the server sends.
const (
	closeGoingAway      = 1001
	closePolicyViolated = 1008
)

// clientFrame is one decoded client -> server frame.
type clientFrame struct {
	Type string          `json:"type"`
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// frameError is why a client frame was refused; ID is set when the frame was
// parsed far enough to trust its id.
type frameError struct {
	ID      string
	Code    string
	Message string
}

// decodeClientFrame decodes and validates one text frame: a single JSON object
// with only the known fields, a known type, a well-formed id and, for intents,
// a name and an optional object as data. It is pure so it can be fuzzed.
func decodeClientFrame(b []byte) (clientFrame, *frameError) {
	var f clientFrame
	bad := func(msg string) (clientFrame, *frameError) {
		return clientFrame{}, &frameError{Code: codeBadMessage, Message: msg}
	}
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return bad("a frame must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return bad("malformed frame: " + err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad("a frame must hold exactly one JSON value")
	}
	if f.ID != "" && !validID(f.ID) {
		return bad("id must be 1-32 characters of A-Z a-z 0-9 _ -")
	}
	if bytes.Equal(f.Data, []byte("null")) {
		f.Data = nil
	}
	fail := func(code, msg string) (clientFrame, *frameError) {
		return clientFrame{}, &frameError{ID: f.ID, Code: code, Message: msg}
	}
	switch f.Type {
	case "":
		return fail(codeBadMessage, "type is missing")
	case "intent":
		if f.ID == "" {
			return fail(codeBadMessage, "an intent needs an id")
		}
		if f.Name == "" || len(f.Name) > maxIntentLen {
			return fail(codeBadMessage, "an intent needs a name of at most 64 bytes")
		}
		if f.Data != nil && f.Data[0] != '{' {
			return fail(codeBadMessage, "data must be a JSON object")
		}
	case "ping":
		if f.Name != "" || f.Data != nil {
			return fail(codeBadMessage, "a ping has only type and id")
		}
	default:
		return fail(codeUnknownType, "unknown frame type")
	}
	return f, nil
}

// validID reports whether id is 1..32 characters of [A-Za-z0-9_-].
func validID(id string) bool {
	if len(id) == 0 || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// tokenBucket admits rate frames per second with bursts of burst.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newTokenBucket(rate, burst float64, now time.Time) *tokenBucket {
	return &tokenBucket{rate: rate, burst: burst, tokens: burst, last: now}
}

// allow takes a token if there is one.
func (b *tokenBucket) allow(now time.Time) bool {
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(b.burst, b.tokens+el.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// dropCounter remembers the times of the last maxDrops drops, so it knows
// exactly when more than maxDrops fell within one window.
type dropCounter struct {
	window time.Duration
	times  []time.Time // ring of the most recent drops
	next   int
}

func newDropCounter(limit int, window time.Duration) *dropCounter {
	return &dropCounter{window: window, times: make([]time.Time, 0, limit)}
}

// add records a drop and reports whether the limit is now exceeded.
func (d *dropCounter) add(now time.Time) bool {
	if len(d.times) < cap(d.times) {
		d.times = append(d.times, now)
		return false
	}
	oldest := d.times[d.next]
	d.times[d.next] = now
	d.next = (d.next + 1) % len(d.times)
	return now.Sub(oldest) < d.window
}

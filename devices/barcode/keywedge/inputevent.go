// Package keywedge owns the keyboard-wedge side of HID barcode scanners: reading
// the kernel's struct input_event records from an evdev node and turning the key
// presses back into the text the scanner "typed", with the US layout every scanner
// ships with. It knows shift and caps lock, ends a frame at Enter (or Ctrl+M /
// Ctrl+J), drops key repeats and keys it cannot type, bounds a frame's length and
// throws away a frame left unfinished.
//
// A keyboard cannot type Vietnamese. A scanner in keyboard mode must turn each
// character of the code into key presses, and for ễ or ư there is no key: depending
// on its firmware it drops the character, sends Alt+keypad digits (a Windows input
// method Linux does not have), or sends the UTF-8 bytes as unrelated keys. So a
// frame read here is ASCII at best; the decoder flags frames that show signs of
// lost characters (a key outside the layout, Alt/Ctrl/Meta held on a character,
// the kernel reporting dropped events), and callers must treat names and addresses
// from a keyboard-wedge scan as lost. A scanner that must read the ID card's QR in
// full belongs in USB serial (CDC-ACM) mode, which carries the bytes unchanged.
package keywedge

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Layout is the binary shape of struct input_event on one architecture:
// { long sec; long usec; u16 type; u16 code; s32 value } in native byte order,
// 24 bytes where long is 64-bit and 16 where it is 32-bit (time64 32-bit ABIs
// keep the 16-byte record, with the fields declared unsigned).
type Layout struct {
	WordSize int // sizeof(long): 8 or 4
	Order    binary.ByteOrder
}

// NativeLayout is the layout of the kernel this program runs on: Go's int has
// the size of C long on every Linux port.
var NativeLayout = Layout{WordSize: strconv.IntSize / 8, Order: binary.NativeEndian}

// RecordSize is the length of one input_event record.
func (l Layout) RecordSize() int { return 2*l.WordSize + 8 }

// Event is one input_event.
type Event struct {
	// Time is the kernel's timestamp, on CLOCK_MONOTONIC when the device was asked
	// for it (EVIOCSCLOCKID) and CLOCK_REALTIME otherwise; only differences
	// between events are used.
	Time  time.Duration
	Type  uint16
	Code  uint16
	Value int32
}

// Event types and codes the decoder reads (linux/input-event-codes.h).
const (
	EvSyn uint16 = 0x00
	EvKey uint16 = 0x01

	SynReport  uint16 = 0
	SynDropped uint16 = 3 // the kernel's event queue overflowed: events were lost

	KeyReleased int32 = 0
	KeyPressed  int32 = 1
	KeyRepeated int32 = 2
)

// ErrTruncated is returned for a stream that ends inside a record.
var ErrTruncated = errors.New("input_event stream ends inside a record")

// Decode decodes one record; rec must be exactly RecordSize bytes.
func (l Layout) Decode(rec []byte) (Event, error) {
	if l.WordSize != 4 && l.WordSize != 8 || l.Order == nil {
		return Event{}, fmt.Errorf("input_event layout with %d-byte words is not one Linux uses", l.WordSize)
	}
	if len(rec) != l.RecordSize() {
		return Event{}, fmt.Errorf("input_event record of %d bytes, expected %d", len(rec), l.RecordSize())
	}
	var sec, usec int64
	if l.WordSize == 8 {
		sec, usec = int64(l.Order.Uint64(rec[0:])), int64(l.Order.Uint64(rec[8:]))
	} else {
		sec, usec = int64(l.Order.Uint32(rec[0:])), int64(l.Order.Uint32(rec[4:]))
	}
	w := 2 * l.WordSize
	return Event{
		// Garbage seconds overflow silently: Time only feeds the idle-gap test.
		Time:  time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond,
		Type:  l.Order.Uint16(rec[w:]),
		Code:  l.Order.Uint16(rec[w+2:]),
		Value: int32(l.Order.Uint32(rec[w+4:])),
	}, nil
}

// Encode writes e as a record; simulators and tests use it to speak the kernel's
// side of the boundary.
func (l Layout) Encode(e Event) []byte {
	rec := make([]byte, l.RecordSize())
	sec, usec := int64(e.Time/time.Second), int64(e.Time%time.Second/time.Microsecond)
	if l.WordSize == 8 {
		l.Order.PutUint64(rec[0:], uint64(sec))
		l.Order.PutUint64(rec[8:], uint64(usec))
	} else {
		l.Order.PutUint32(rec[0:], uint32(sec))
		l.Order.PutUint32(rec[4:], uint32(usec))
	}
	w := 2 * l.WordSize
	l.Order.PutUint16(rec[w:], e.Type)
	l.Order.PutUint16(rec[w+2:], e.Code)
	l.Order.PutUint32(rec[w+4:], uint32(e.Value))
	return rec
}

// RecordReader reads input_event records from a byte stream: an evdev node, or a
// recording of one.
type RecordReader struct {
	r      *bufio.Reader
	layout Layout
	rec    []byte
}

// NewRecordReader reads records of layout l from r. It buffers 64 records: evdev
// hands out as many whole records as fit in a read, so a burst of keys from one
// scan costs a few reads, not one per event.
func NewRecordReader(r io.Reader, l Layout) *RecordReader {
	return &RecordReader{r: bufio.NewReaderSize(r, 64*l.RecordSize()), layout: l, rec: make([]byte, l.RecordSize())}
}

// Read returns the next event; io.EOF at a clean end, ErrTruncated when the stream
// ends inside a record, and the reader's error otherwise.
func (rr *RecordReader) Read() (Event, error) {
	n, err := io.ReadFull(rr.r, rr.rec)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Event{}, fmt.Errorf("%w (%d of %d bytes)", ErrTruncated, n, len(rr.rec))
	case err != nil:
		return Event{}, err
	}
	return rr.layout.Decode(rr.rec)
}

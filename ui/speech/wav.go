package speech

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ErrNotWAV is wrapped by every error Duration returns.
var ErrNotWAV = errors.New("not a RIFF/WAVE PCM file")

// wavFormat is what the rest of the package needs from a WAV header.
type wavFormat struct {
	channels   int
	rate       int
	bits       int
	blockAlign int
	dataOff    int // offset of the first sample byte
	dataLen    int // bytes of sample data actually present
	lastChunk  bool
}

const (
	waveFormatPCM        = 1
	waveFormatExtensible = 0xFFFE
)

// Duration returns the playing time of a PCM WAV file. It accepts the header
// espeak-ng writes to a pipe, whose RIFF and data sizes are placeholders
// (0x7FFFF000, 0xFFFFFFFF or 0) because the length is unknown when the header
// goes out: a data size of 0 or one past the end of the buffer means "the
// rest of the buffer".
func Duration(wav []byte) (time.Duration, error) {
	f, err := parseWAV(wav)
	if err != nil {
		return 0, err
	}
	frames := f.dataLen / f.blockAlign
	rate := f.rate
	// Split to keep frames*time.Second from overflowing on absurd headers.
	return time.Duration(frames/rate)*time.Second +
		time.Duration(frames%rate)*time.Second/time.Duration(rate), nil
}

func parseWAV(b []byte) (wavFormat, error) {
	var f wavFormat
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return f, fmt.Errorf("speech: no RIFF/WAVE header: %w", ErrNotWAV)
	}
	le := binary.LittleEndian
	haveFmt := false
	for off := 12; ; {
		if len(b)-off < 8 {
			return f, fmt.Errorf("speech: no data chunk: %w", ErrNotWAV)
		}
		id := string(b[off : off+4])
		size := int64(le.Uint32(b[off+4 : off+8]))
		body := off + 8
		rest := int64(len(b) - body)
		switch id {
		case "fmt ":
			if size < 16 || size > rest {
				return f, fmt.Errorf("speech: fmt chunk of %d bytes: %w", size, ErrNotWAV)
			}
			tag := le.Uint16(b[body:])
			f.channels = int(le.Uint16(b[body+2:]))
			f.rate = int(le.Uint32(b[body+4:]))
			f.blockAlign = int(le.Uint16(b[body+12:]))
			f.bits = int(le.Uint16(b[body+14:]))
			if tag == waveFormatExtensible && size >= 40 {
				// The sub-format GUID starts with the real format tag.
				tag = le.Uint16(b[body+24:])
			}
			if tag != waveFormatPCM {
				return f, fmt.Errorf("speech: format tag %#x is not PCM: %w", tag, ErrNotWAV)
			}
			if f.channels < 1 || f.rate < 1 || (f.bits != 8 && f.bits != 16 && f.bits != 24 && f.bits != 32) ||
				f.blockAlign != f.channels*f.bits/8 {
				return f, fmt.Errorf("speech: bad PCM format (%d ch, %d Hz, %d bit, align %d): %w",
					f.channels, f.rate, f.bits, f.blockAlign, ErrNotWAV)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return f, fmt.Errorf("speech: data chunk before fmt chunk: %w", ErrNotWAV)
			}
			f.dataOff = body
			f.lastChunk = true
			switch {
			case size == 0 || size > rest:
				// A streaming placeholder or a truncated file: what is there is what plays.
				f.dataLen = int(rest)
			default:
				f.dataLen = int(size)
				f.lastChunk = size+size&1 >= rest
			}
			return f, nil
		}
		next := int64(body) + size + size&1 // chunks are padded to even length
		if next > int64(len(b)) {
			return f, fmt.Errorf("speech: chunk %q runs past the end: %w", id, ErrNotWAV)
		}
		off = int(next)
	}
}

// fixWAVSizes rewrites the RIFF and data sizes of a WAV whose data chunk is
// the last one, so that players that trust the header (and seek with it) see
// the real length rather than espeak-ng's streaming placeholder. A trailing
// partial frame is dropped.
func fixWAVSizes(b []byte) ([]byte, error) {
	f, err := parseWAV(b)
	if err != nil {
		return nil, err
	}
	if !f.lastChunk {
		return b, nil
	}
	n := f.dataLen - f.dataLen%f.blockAlign
	b = b[:f.dataOff+n]
	le := binary.LittleEndian
	le.PutUint32(b[f.dataOff-4:], uint32(n))
	le.PutUint32(b[4:], uint32(len(b)-8))
	return b, nil
}

// encodeWAV wraps 16-bit mono samples in a canonical 44-byte PCM header.
func encodeWAV(samples []int16, rate int) []byte {
	const header = 44
	n := len(samples) * 2
	b := make([]byte, header+n)
	le := binary.LittleEndian
	copy(b[0:], "RIFF")
	le.PutUint32(b[4:], uint32(header-8+n))
	copy(b[8:], "WAVEfmt ")
	le.PutUint32(b[16:], 16)
	le.PutUint16(b[20:], waveFormatPCM)
	le.PutUint16(b[22:], 1)
	le.PutUint32(b[24:], uint32(rate))
	le.PutUint32(b[28:], uint32(rate*2))
	le.PutUint16(b[32:], 2)
	le.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	le.PutUint32(b[40:], uint32(n))
	for i, s := range samples {
		le.PutUint16(b[header+2*i:], uint16(s))
	}
	return b
}

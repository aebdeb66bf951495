package iso7816

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Transport sends one raw command APDU and returns the raw response APDU. The PC/SC
// card handle implements it; tests implement it with a recording fake.
type Transport interface {
	Transmit(ctx context.Context, command []byte) ([]byte, error)
}

// Sender sends a command and returns its response. A plain Conn and a secure
// messaging channel both implement it, so the file reading and authentication code
// does not care whether the channel is protected.
type Sender interface {
	Send(ctx context.Context, cmd Command) (Response, error)
}

// Stats counts what crossed the wire. Contents are never recorded.
type Stats struct {
	APDUs    int64 // command APDUs sent, including GET RESPONSE and Le retries
	BytesOut int64 // command bytes sent
	BytesIn  int64 // response bytes received, status words included
}

// Trace describes one APDU exchange without its contents.
type Trace struct {
	INS         byte
	CommandLen  int
	ResponseLen int // response bytes including the status word; 0 on error
	SW          SW  // 0 on error
	Duration    time.Duration
	Err         error
}

// Conn sends commands over a Transport. It follows 61xx with GET RESPONSE and
// repeats a command once with the Le the card asks for on 6Cxx, so callers see one
// logical response per command.
type Conn struct {
	T Transport
	// Extended allows extended length encoding. Commands that fit in short form
	// are always sent short, which every card accepts.
	Extended bool
	// Trace, when set, is called after every APDU on the wire with its shape:
	// lengths, status word and time, never the bytes, which carry personal data
	// and keys.
	Trace func(Trace)

	apdus, out, in atomic.Int64
}

// NewConn returns a Conn over t.
func NewConn(t Transport) *Conn { return &Conn{T: t} }

// Stats returns the counters so far.
func (c *Conn) Stats() Stats {
	return Stats{APDUs: c.apdus.Load(), BytesOut: c.out.Load(), BytesIn: c.in.Load()}
}

// maxChained bounds GET RESPONSE loops so a hostile card answering 61xx forever
// cannot keep the reader busy.
const maxChained = 512

// Send implements Sender.
func (c *Conn) Send(ctx context.Context, cmd Command) (Response, error) {
	ext := c.Extended && cmd.NeedsExtended()
	raw, err := cmd.Bytes(ext)
	if err != nil {
		return Response{}, err
	}
	resp, err := c.roundTrip(ctx, raw)
	if err != nil {
		return Response{}, err
	}
	if resp.SW.SW1() == 0x6C {
		// Wrong Le: the card tells the exact length available.
		retry := cmd
		retry.Ne = int(resp.SW.SW2())
		if retry.Ne == 0 {
			retry.Ne = MaxShortNe
		}
		if raw, err = retry.Bytes(false); err != nil {
			return Response{}, err
		}
		if resp, err = c.roundTrip(ctx, raw); err != nil {
			return Response{}, err
		}
	}
	if resp.SW.SW1() != 0x61 {
		return resp, nil
	}
	data := append([]byte(nil), resp.Data...)
	for i := 0; resp.SW.SW1() == 0x61; i++ {
		if i == maxChained {
			return Response{}, errors.New("iso7816: card keeps answering 61xx")
		}
		ne := int(resp.SW.SW2())
		if ne == 0 {
			ne = MaxShortNe
		}
		// GET RESPONSE is a transport-level command: never protected, same logical channel.
		gr, _ := Command{CLA: cmd.CLA & 0x03, INS: 0xC0, Ne: ne}.Bytes(false)
		if resp, err = c.roundTrip(ctx, gr); err != nil {
			return Response{}, err
		}
		data = append(data, resp.Data...)
	}
	resp.Data = data
	return resp, nil
}

func (c *Conn) roundTrip(ctx context.Context, raw []byte) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, err
	}
	c.apdus.Add(1)
	c.out.Add(int64(len(raw)))
	t0 := time.Now()
	b, err := c.T.Transmit(ctx, raw)
	c.in.Add(int64(len(b)))
	var resp Response
	if err == nil {
		resp, err = ParseResponse(b)
	}
	if c.Trace != nil {
		tr := Trace{INS: raw[1], CommandLen: len(raw), ResponseLen: len(b), SW: resp.SW, Duration: time.Since(t0), Err: err}
		c.Trace(tr)
	}
	if err != nil {
		return Response{}, fmt.Errorf("transmit: %w", err)
	}
	return resp, nil
}

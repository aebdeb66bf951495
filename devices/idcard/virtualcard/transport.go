package virtualcard

import (
	"context"
	"slices"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/vpcd"
)

// Transport connects c straight to a reader in-process, without pcscd: every
// Transmit is one Process. It is for fast tests; the slow fault still sleeps.
// A card that was removed (FaultRemoval) or powered off gives ErrRemoved.
func Transport(c *Card) iso7816.Transport { return transport{c} }

type transport struct{ c *Card }

func (t transport) Transmit(ctx context.Context, command []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp := t.c.Process(slices.Clone(command))
	if resp == nil {
		return nil, ErrRemoved
	}
	return resp, nil
}

// Serve inserts c into the vpcd reader listening at addr (pcscd's "Virtual PCD"
// slot, e.g. 127.0.0.1:35963) until ctx ends, the slot is removed, or pcscd goes
// away, and wires FaultRemoval to the slot's Remove.
func Serve(ctx context.Context, addr string, c *Card, opts ...vpcd.Option) (*vpcd.Slot, error) {
	inserted := make(chan struct{})
	var slot *vpcd.Slot
	c.SetOnRemove(func() {
		<-inserted // Insert may start serving before it returns the slot
		slot.Remove()
	})
	s, err := vpcd.Insert(ctx, addr, c, opts...)
	if err != nil {
		c.SetOnRemove(nil)
		return nil, err
	}
	slot = s
	close(inserted)
	return s, nil
}

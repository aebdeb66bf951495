package idcard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard/pcsc"
)

// ErrNoCard means no matching reader holds a card.
var ErrNoCard = errors.New("no card on the reader")

// ReadFromReader reads the card in the first reader matching pattern that holds
// one, inside one PC/SC transaction so no other program interleaves APDUs with
// our secure messaging, and disconnects with a reset so the session cannot be
// reused. With wait > 0 it waits that long for a card to be placed.
func ReadFromReader(ctx context.Context, pattern string, key AccessKey, opt Options, wait time.Duration) (*Document, string, error) {
	card, err := connectFirst(ctx, pattern, wait)
	if err != nil {
		return nil, "", err
	}
	defer card.Close()
	if opt.ATR == nil {
		opt.ATR = card.ATR()
	}
	var doc *Document
	err = card.Transaction(ctx, func() error {
		var rerr error
		doc, rerr = Read(ctx, card, key, opt)
		return rerr
	})
	if err != nil {
		return nil, card.Reader(), err
	}
	return doc, card.Reader(), nil
}

func connectFirst(ctx context.Context, pattern string, wait time.Duration) (*pcsc.Card, error) {
	deadline := time.Now().Add(wait)
	for {
		card, err := tryConnect(ctx, pattern)
		if err == nil {
			return card, nil
		}
		// While waiting, a card just placed may still be settling in pcscd (mute,
		// unpowered, protocol not yet negotiated): try again. A missing reader or
		// pcscd is not going to change by waiting.
		if errors.Is(err, pcsc.ErrNoReader) || errors.Is(err, pcsc.ErrNoService) || errors.Is(err, pcsc.ErrReaderGone) ||
			ctx.Err() != nil || time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tryConnect(ctx context.Context, pattern string) (*pcsc.Card, error) {
	pc, err := pcsc.Establish()
	if err != nil {
		return nil, err
	}
	readers, err := pc.ListReaders(pattern)
	pc.Release()
	if err != nil {
		return nil, err
	}
	for _, r := range readers {
		card, err := pcsc.Connect(ctx, r)
		if errors.Is(err, pcsc.ErrCardRemoved) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return card, nil
	}
	return nil, fmt.Errorf("%w (readers: %d matching)", ErrNoCard, len(readers))
}

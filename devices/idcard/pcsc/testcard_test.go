package pcsc_test

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard/vpcd"
)

// testATR is a T=1 ATR: TS 3B, T0 80, TD1 80, TD2 01 (T=1), TCK 01.
var testATR = []byte{0x3B, 0x80, 0x80, 0x01, 0x01}

// echoCard answers SELECT with 9000 and echoes the data of any other command
// followed by 9000: just enough card to exercise the transport. removeAt, when
// set, makes the nth command (1-based) pull the card out instead of answering;
// delay slows every answer down.
type echoCard struct {
	atr      []byte
	delay    time.Duration
	removeAt int64
	slot     atomic.Pointer[vpcd.Slot]

	mu       sync.Mutex
	commands int64
	powerOns int
	resets   int
}

func (c *echoCard) ATR() []byte { return c.atr }

func (c *echoCard) PowerOn() {
	c.mu.Lock()
	c.powerOns++
	c.mu.Unlock()
}

func (c *echoCard) PowerOff() {}

func (c *echoCard) Reset() {
	c.mu.Lock()
	c.resets++
	c.mu.Unlock()
}

func (c *echoCard) Process(apdu []byte) []byte {
	c.mu.Lock()
	c.commands++
	n := c.commands
	c.mu.Unlock()
	if c.removeAt != 0 && n == c.removeAt {
		if s := c.slot.Load(); s != nil {
			s.Remove()
			return nil
		}
	}
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	if apdu[1] == 0xA4 {
		return []byte{0x90, 0x00}
	}
	var data []byte
	if len(apdu) > 5 && int(apdu[4]) <= len(apdu)-5 {
		data = apdu[5 : 5+int(apdu[4])]
	}
	return append(append([]byte(nil), data...), 0x90, 0x00)
}

func (c *echoCard) count() (commands int64, resets int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.commands, c.resets
}

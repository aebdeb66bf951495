package securemessaging

import (
	"context"
	"crypto/cipher"
	"errors"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816/iso7816test"
)

var unhex = iso7816test.Unhex

// exchange is one scripted {command, response} pair on the wire.
type exchange = [2]string

type script = iso7816test.Playback

// cardTransport is a virtual chip behind a real iso7816.Conn: it parses the wire
// bytes, unwraps with a CardSession, lets app answer the plain command and wraps
// the answer, as the virtual card does.
type cardTransport struct {
	cs   *CardSession
	app  func(iso7816.Command) iso7816.Response
	last []byte
	seen []iso7816.Command // plaintext commands the card received
}

func (c *cardTransport) Transmit(_ context.Context, raw []byte) ([]byte, error) {
	c.last = append([]byte(nil), raw...)
	cmd, err := iso7816.ParseCommand(raw)
	if err != nil {
		return iso7816.Response{SW: iso7816.SWWrongLength}.Bytes(), nil
	}
	plain, err := c.cs.UnwrapCommand(cmd)
	if err != nil {
		var ce *CommandError
		if !errors.As(err, &ce) {
			return nil, err
		}
		return iso7816.Response{SW: ce.SW}.Bytes(), nil
	}
	c.seen = append(c.seen, plain)
	return c.cs.WrapResponse(c.app(plain)).Bytes(), nil
}

func cbcEncrypt(s *suite, iv, dst, src []byte) {
	cipher.NewCBCEncrypter(s.enc, iv).CryptBlocks(dst, src)
}

package chipauth

import (
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
)

// FuzzCardProcess sends hostile MSE and GENERAL AUTHENTICATE data to the chip
// side: no panic, and a new session only ever comes with 9000.
func FuzzCardProcess(f *testing.F) {
	c, _ := eccurve.ByParameterID(13)
	key := c.Marshal(c.ScalarBaseMult([]byte{3}))
	f.Add(append([]byte{0x80, 0x0A}, 0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x03, 0x02, 0x02), append([]byte{0x7C, 0x43, 0x80, 0x41}, key...), append([]byte{0x91, 0x41}, key...))
	f.Fuzz(func(t *testing.T, at, ga, kat []byte) {
		for _, cipher := range []securityinfo.Cipher{securityinfo.AES128, securityinfo.TripleDES} {
			info := securityinfo.ChipAuthenticationInfo{Protocol: (securityinfo.CAProtocol{KeyAgreement: securityinfo.ECDH, Cipher: cipher}).OID(), Version: 1}
			card, err := NewCard(info, c, []byte{7})
			if err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []iso7816.Command{
				{INS: 0x22, P1: 0x41, P2: 0xA4, Data: at},
				{INS: 0x86, Data: ga, Ne: 256},
				{INS: 0x22, P1: 0x41, P2: 0xA6, Data: kat},
			} {
				resp, sess := card.Process(cmd)
				if sess != nil && resp.SW != iso7816.SWOK {
					t.Fatalf("session with SW %s", resp.SW)
				}
			}
		}
	})
}

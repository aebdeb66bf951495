package securemessaging

import (
	"errors"
	"fmt"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// Secure messaging data objects (ISO/IEC 7816-4 §10, ICAO 9303 Part 11 §9.8).
const (
	tagCryptogramBER  tlv.Tag = 0x85 // cryptogram of BER-TLV data: odd INS, no padding indicator
	tagCryptogram     tlv.Tag = 0x87 // padding indicator 01 then cryptogram
	tagLe             tlv.Tag = 0x97
	tagStatus         tlv.Tag = 0x99
	tagMAC            tlv.Tag = 0x8E
	paddingIndicator          = 0x01 // ISO/IEC 9797-1 padding method 2
	claSecureMessaged         = 0x0C // SM, header authenticated (ISO/IEC 7816-4 class byte)
)

// Protected response overhead: DO'99' (99 02 SW1 SW2) and DO'8E' (8E 08 MAC).
const responseTrailer = 4 + 2 + MACLen

// maxShortRead returns the largest n such that a protected response to a short
// READ BINARY of n bytes still fits the 256 data bytes a short Le=00 allows:
// DO'87' = 87 L 01 || pad(n), then DO'99' and DO'8E'. For AES (16-byte blocks)
// n = 223 = 0xDF pads to 224, DO'87' is 87 81 E1 01 || 224 bytes = 228 bytes and
// the response 242; n = 224 would pad to 240 and need 258. For 3DES (8-byte
// blocks) n = 231 = 0xE7 pads to 232 and the response takes 250 bytes.
func maxShortRead(alg Algorithm) int {
	bs := alg.BlockSize()
	best := 0
	for n := 1; n <= iso7816.MaxShortNe; n++ {
		padded := (n/bs + 1) * bs
		do87 := 1 + len(tlv.EncodeLength(1+padded)) + 1 + padded
		if do87+responseTrailer <= iso7816.MaxShortNe {
			best = n
		}
	}
	return best
}

// encodeLe is the DO'97' value: one byte for Ne up to 256 (00 meaning 256), two
// bytes above (0000 meaning 65536), as in the Le field of ISO/IEC 7816-4.
func encodeLe(ne int) []byte {
	if ne <= iso7816.MaxShortNe {
		return []byte{byte(ne)}
	}
	return []byte{byte(ne >> 8), byte(ne)}
}

func decodeLe(b []byte) (int, error) {
	switch len(b) {
	case 1:
		if b[0] == 0 {
			return iso7816.MaxShortNe, nil
		}
		return int(b[0]), nil
	case 2:
		ne := int(b[0])<<8 | int(b[1])
		if ne == 0 {
			return iso7816.MaxExtendedNe, nil
		}
		return ne, nil
	}
	return 0, fmt.Errorf("DO'97' of %d bytes", len(b))
}

// protectCommand builds the protected command of §9.8 and advances the SSC.
func (s *suite) protectCommand(cmd iso7816.Command) (iso7816.Command, error) {
	if cmd.Ne < 0 || cmd.Ne > iso7816.MaxExtendedNe {
		return iso7816.Command{}, fmt.Errorf("command Ne %d out of range", cmd.Ne)
	}
	bs := s.enc.BlockSize()
	// Padding adds at most one block and DO'87' at most 6 header bytes; checking the
	// plaintext length first keeps encryption from running on absurd inputs.
	if len(cmd.Data) > iso7816.MaxExtendedNc {
		return iso7816.Command{}, fmt.Errorf("command data of %d bytes too long", len(cmd.Data))
	}
	cla := cmd.CLA | claSecureMessaged
	s.incrementSSC()
	header := Pad([]byte{cla, cmd.INS, cmd.P1, cmd.P2}, bs)
	var do87, do97 []byte
	if len(cmd.Data) > 0 {
		ct := s.encrypt(cmd.Data)
		if cmd.INS&1 == 1 {
			do87 = tlv.Encode(tagCryptogramBER, ct)
		} else {
			do87 = tlv.Encode(tagCryptogram, []byte{paddingIndicator}, ct)
		}
	}
	if cmd.Ne > 0 {
		do97 = tlv.Encode(tagLe, encodeLe(cmd.Ne))
	}
	do8e := tlv.Encode(tagMAC, s.mac(header, do87, do97))
	body := make([]byte, 0, len(do87)+len(do97)+len(do8e))
	body = append(append(append(body, do87...), do97...), do8e...)
	if len(body) > iso7816.MaxExtendedNc {
		return iso7816.Command{}, fmt.Errorf("protected command data of %d bytes too long", len(body))
	}
	// The response always carries DO'99' and DO'8E', so Le is always present, and
	// extended exactly when the plaintext needed it or the body outgrew short form.
	ne := iso7816.MaxShortNe
	if cmd.Ne > iso7816.MaxShortNe || len(body) > iso7816.MaxShortNc {
		ne = iso7816.MaxExtendedNe
	}
	return iso7816.Command{CLA: cla, INS: cmd.INS, P1: cmd.P1, P2: cmd.P2, Data: body, Ne: ne}, nil
}

// splitProtected parses [DO'85'|DO'87'] [DO'97' or DO'99'] DO'8E' in this order,
// returning the cryptogram object (tag 0 if none), the middle object (nil if none),
// the bytes the MAC covers and the MAC. middle is DO'97' in commands and DO'99' in
// responses.
func splitProtected(b []byte, middle tlv.Tag) (crypt tlv.Object, mid []byte, hasMid bool, covered, mac []byte, err error) {
	rest := b
	stage := 0 // 0: expect cryptogram, middle or MAC; 1: middle or MAC; 2: MAC
	for len(rest) > 0 {
		o, next, err := tlv.Next(rest)
		if err != nil {
			return tlv.Object{}, nil, false, nil, nil, err
		}
		switch {
		case (o.Tag == tagCryptogram || o.Tag == tagCryptogramBER) && stage == 0:
			crypt = o
			stage = 1
		case o.Tag == middle && stage <= 1:
			mid, hasMid = o.Value, true
			stage = 2
		case o.Tag == tagMAC:
			if len(next) != 0 {
				return tlv.Object{}, nil, false, nil, nil, errors.New("data after DO'8E'")
			}
			if len(o.Value) != MACLen {
				return tlv.Object{}, nil, false, nil, nil, fmt.Errorf("DO'8E' of %d bytes", len(o.Value))
			}
			return crypt, mid, hasMid, b[:len(b)-len(rest)], o.Value, nil
		default:
			return tlv.Object{}, nil, false, nil, nil, fmt.Errorf("unexpected DO'%s'", o.Tag)
		}
		rest = next
	}
	return tlv.Object{}, nil, false, nil, nil, errMissingMAC
}

var errMissingMAC = errors.New("DO'8E' missing")

// decryptObject decrypts a DO'87' or DO'85' value; the MAC must already be checked.
func (s *suite) decryptObject(o tlv.Object) ([]byte, error) {
	ct := o.Value
	if o.Tag == tagCryptogram {
		if len(ct) == 0 || ct[0] != paddingIndicator {
			return nil, errors.New("DO'87' without padding indicator 01")
		}
		ct = ct[1:]
	}
	return s.decrypt(ct)
}

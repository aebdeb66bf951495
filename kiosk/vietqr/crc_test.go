package vietqr

import "testing"

func TestCRC16CCITTFalse(t *testing.T) {
	t.Parallel()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want uint16
	}{
		// The check value of CRC-16/CCITT-FALSE in the CRC catalogue (Greg Cook's
		// "Catalogue of parametrised CRC algorithms", alias CRC-16/IBM-3740).
		{"catalogue check", []byte("123456789"), 0x29B1},
		{"empty is the initial value", nil, 0xFFFF},
		{"one byte", []byte("A"), 0xB915},
		// Python's binascii.crc_hqx(bytes(range(256)), 0xFFFF), an independent
		// implementation; covers bytes with the high bit set.
		{"all byte values", all, 0x3FBD},
		// The ACB example up to and including "6304"; DOMAIN.md prints 53E6.
		{"ACB payload", []byte("00020101021238530010A0000007270123000697041601092576788590208QRIBFTTA53037045405100005802VN62150811Chuyen tien6304"), 0x53E6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := CRC16CCITTFalse(tc.in); got != tc.want {
				t.Errorf("CRC16CCITTFalse = %04X, want %04X", got, tc.want)
			}
		})
	}
}

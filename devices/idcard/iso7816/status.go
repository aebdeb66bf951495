package iso7816

import (
	"errors"
	"fmt"
)

// SW is a status word (SW1 SW2).
type SW uint16

// Status words the eMRTD reader and the virtual card use (ISO/IEC 7816-4 §5.6).
const (
	SWOK                       SW = 0x9000
	SWEndOfFile                SW = 0x6282 // fewer bytes than Le before end of file
	SWWrongLength              SW = 0x6700
	SWSMDataObjectsMissing     SW = 0x6987
	SWSMDataObjectsIncorrect   SW = 0x6988
	SWSecurityNotSatisfied     SW = 0x6982
	SWAuthMethodBlocked        SW = 0x6983
	SWConditionsNotSatisfied   SW = 0x6985
	SWIncorrectData            SW = 0x6A80
	SWFunctionNotSupported     SW = 0x6A81
	SWFileNotFound             SW = 0x6A82
	SWIncorrectP1P2            SW = 0x6A86
	SWWrongP1P2                SW = 0x6B00
	SWINSNotSupported          SW = 0x6D00
	SWCLANotSupported          SW = 0x6E00
	SWUnknown                  SW = 0x6F00
	SWVerificationFailedPrefix SW = 0x63C0 // 63Cx: x tries left
)

// SW1 and SW2 return the two bytes.
func (s SW) SW1() byte { return byte(s >> 8) }
func (s SW) SW2() byte { return byte(s) }

func (s SW) String() string { return fmt.Sprintf("%04X", uint16(s)) }

// StatusError is a response whose status word is not 9000.
type StatusError struct{ SW SW }

func (e *StatusError) Error() string {
	return fmt.Sprintf("card answered %04X (%s)", uint16(e.SW), describe(e.SW))
}

// IsStatus reports whether err carries the given status word.
func IsStatus(err error, sw SW) bool {
	var se *StatusError
	return errors.As(err, &se) && se.SW == sw
}

func describe(s SW) string {
	switch {
	case s == SWEndOfFile:
		return "end of file reached"
	case s == SWWrongLength:
		return "wrong length"
	case s == SWSMDataObjectsMissing:
		return "secure messaging data objects missing"
	case s == SWSMDataObjectsIncorrect:
		return "secure messaging data objects incorrect"
	case s == SWSecurityNotSatisfied:
		return "security status not satisfied"
	case s == SWAuthMethodBlocked:
		return "authentication method blocked"
	case s == SWConditionsNotSatisfied:
		return "conditions of use not satisfied"
	case s == SWIncorrectData:
		return "incorrect data"
	case s == SWFileNotFound:
		return "file not found"
	case s == SWIncorrectP1P2, s == SWWrongP1P2:
		return "wrong parameters"
	case s == SWINSNotSupported:
		return "instruction not supported"
	case s == SWCLANotSupported:
		return "class not supported"
	case s&0xFFF0 == SWVerificationFailedPrefix:
		return fmt.Sprintf("verification failed, %d tries left", s&0xF)
	default:
		return "error"
	}
}

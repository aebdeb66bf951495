package securemessaging

import (
	"errors"
	"fmt"
	"sync"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// CommandError is a secure messaging error found by the card side. The card
// answers SW without secure messaging and the session is over (§9.8: 6987 when
// data objects are missing, 6988 when they are incorrect). It unwraps to an
// *iso7816.StatusError, so iso7816.IsStatus works on it.
type CommandError struct {
	SW     iso7816.SW
	Reason string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("securemessaging: %s (%s)", e.Reason, e.SW)
}

// Unwrap returns the status the card answers.
func (e *CommandError) Unwrap() error { return &iso7816.StatusError{SW: e.SW} }

func missing(reason string) error {
	return &CommandError{SW: iso7816.SWSMDataObjectsMissing, Reason: reason}
}

func incorrect(reason string) error {
	return &CommandError{SW: iso7816.SWSMDataObjectsIncorrect, Reason: reason}
}

// CardSession is the chip side of a secure messaging session, for the virtual
// card: UnwrapCommand then WrapResponse for every protected command. It is safe for
// concurrent use, though a card handles one command at a time.
type CardSession struct {
	mu      sync.Mutex
	s       *suite
	oddINS  bool // INS of the last command, whose response mirrors its DO'85'/'87' choice
	aborted bool
}

// NewCardSession starts the card side with the same keys and initial SSC as the
// terminal's NewChannel.
func NewCardSession(alg Algorithm, kenc, kmac, ssc []byte) (*CardSession, error) {
	s, err := newSuite(alg, kenc, kmac, ssc)
	if err != nil {
		return nil, err
	}
	return &CardSession{s: s}, nil
}

// Aborted reports whether an earlier error ended the session. The card then
// processes commands as if no session had been established.
func (cs *CardSession) Aborted() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.aborted
}

// UnwrapCommand verifies the MAC of a protected command (§9.8) before anything
// else, decrypts DO'87'/DO'85' and takes Ne from DO'97' (0 if absent). The returned
// command has the SM bits cleared from CLA (chaining and channel bits kept). On
// error, a *CommandError, the session is aborted and the card must answer the
// error's SW unprotected.
func (cs *CardSession) UnwrapCommand(cmd iso7816.Command) (iso7816.Command, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.aborted {
		return iso7816.Command{}, missing("session aborted")
	}
	out, err := cs.unwrap(cmd)
	if err != nil {
		cs.aborted = true
		return iso7816.Command{}, err
	}
	return out, nil
}

func (cs *CardSession) unwrap(cmd iso7816.Command) (iso7816.Command, error) {
	if cmd.CLA&claSecureMessaged != claSecureMessaged {
		// A plain command during a session ends it (§9.8).
		return iso7816.Command{}, missing("plain command in a secure messaging session")
	}
	cs.s.incrementSSC()
	crypt, do97, has97, covered, mac, err := splitProtected(cmd.Data, tagLe)
	if errors.Is(err, errMissingMAC) {
		return iso7816.Command{}, missing(err.Error())
	}
	if err != nil {
		return iso7816.Command{}, incorrect(err.Error())
	}
	header := Pad([]byte{cmd.CLA, cmd.INS, cmd.P1, cmd.P2}, cs.s.enc.BlockSize())
	if !cs.s.verifyMAC(mac, header, covered) {
		return iso7816.Command{}, incorrect("command MAC does not verify")
	}
	odd := cmd.INS&1 == 1
	if crypt.Tag != 0 && (crypt.Tag == tagCryptogramBER) != odd {
		return iso7816.Command{}, incorrect(fmt.Sprintf("DO'%s' with INS %02X", crypt.Tag, cmd.INS))
	}
	out := iso7816.Command{CLA: cmd.CLA &^ claSecureMessaged, INS: cmd.INS, P1: cmd.P1, P2: cmd.P2}
	if has97 {
		if out.Ne, err = decodeLe(do97); err != nil {
			return iso7816.Command{}, incorrect(err.Error())
		}
	}
	if crypt.Tag != 0 {
		if out.Data, err = cs.s.decryptObject(crypt); err != nil {
			return iso7816.Command{}, incorrect("command cryptogram: " + err.Error())
		}
	}
	cs.oddINS = odd
	return out, nil
}

// WrapResponse protects the response to the last unwrapped command (§9.8): the
// data, if any, in DO'87' (DO'85' for an odd INS), the status in DO'99', and the
// MAC in DO'8E'; the outer status repeats resp.SW. On an aborted session it returns
// a plain 6987, which is what the chip answers once secure messaging is gone.
func (cs *CardSession) WrapResponse(resp iso7816.Response) iso7816.Response {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.aborted {
		return iso7816.Response{SW: iso7816.SWSMDataObjectsMissing}
	}
	cs.s.incrementSSC()
	var do87 []byte
	if len(resp.Data) > 0 {
		ct := cs.s.encrypt(resp.Data)
		if cs.oddINS {
			do87 = tlv.Encode(tagCryptogramBER, ct)
		} else {
			do87 = tlv.Encode(tagCryptogram, []byte{paddingIndicator}, ct)
		}
	}
	do99 := tlv.Encode(tagStatus, []byte{resp.SW.SW1(), resp.SW.SW2()})
	do8e := tlv.Encode(tagMAC, cs.s.mac(do87, do99))
	data := make([]byte, 0, len(do87)+len(do99)+len(do8e))
	data = append(append(append(data, do87...), do99...), do8e...)
	return iso7816.Response{Data: data, SW: resp.SW}
}

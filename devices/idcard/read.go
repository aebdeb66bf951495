package idcard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard/activeauth"
	"github.com/vnkiosk/kiosk/devices/idcard/bac"
	"github.com/vnkiosk/kiosk/devices/idcard/chipauth"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/lds"
	"github.com/vnkiosk/kiosk/devices/idcard/pace"
	"github.com/vnkiosk/kiosk/devices/idcard/passiveauth"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// AIDLDS1 is the eMRTD LDS1 application (ICAO 9303 Part 10 §3.1).
var AIDLDS1 = []byte{0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01}

// ExtendedMode says whether to use extended-length APDUs.
type ExtendedMode int

// Extended-length choices. Auto uses them when the ATR's card capabilities say the
// card accepts them, and falls back to short APDUs if a read is refused.
const (
	ExtendedAuto ExtendedMode = iota
	ExtendedOff
	ExtendedOn
)

// AccessMode chooses the access protocol.
type AccessMode int

// Access protocols. Auto uses PACE when EF.CardAccess offers it, as ICAO 9303
// requires, and BAC otherwise; BAC forces BAC (technicians checking a card's
// fallback path).
const (
	AccessAuto AccessMode = iota
	AccessBAC
)

// Options tune a read.
type Options struct {
	Access   AccessMode
	Trust    *passiveauth.TrustStore // CSCAs (and CRLs) for passive authentication; nil = empty
	NoPhoto  bool                    // skip DG2 (faster; the UI shows no photo)
	Extended ExtendedMode
	ATR      []byte              // the card's ATR, for ExtendedAuto
	Progress func(Progress)      // called from the reading goroutine; must not block
	Rand     io.Reader           // nil = crypto/rand; tests inject it
	Now      func() time.Time    // clock for certificate validity; nil = time.Now
	Trace    func(iso7816.Trace) // every APDU's shape (never its bytes), for metrics
}

// Progress is reported while reading, for the UI's progress bar.
type Progress struct {
	Step      string `json:"step"` // access, chip_auth, read, active_auth, passive_auth, done
	File      string `json:"file,omitempty"`
	FileDone  int    `json:"file_done,omitempty"`  // bytes of File read so far
	FileTotal int    `json:"file_total,omitempty"` // size of File
	BytesRead int    `json:"bytes_read"`           // all file bytes read so far
}

// Errors a caller (and the UI) tells apart.
var (
	ErrAccessDenied = errors.New("the card refused the access key: check the CAN or the MRZ data")
	ErrNotEMRTD     = errors.New("this card is not a chip ID card or passport (no ICAO 9303 application)")
	ErrNoAccessPath = errors.New("the card offers no access protocol the given key can open")
)

// reader holds one read's state.
type reader struct {
	opt       Options
	key       AccessKey
	conn      *iso7816.Conn
	sm        iso7816.Sender
	channel   *securemessaging.Channel
	extended  bool
	cardInfo  *securityinfo.SecurityInfos
	dg14      *securityinfo.SecurityInfos
	chipAuth  bool // chip authentication succeeded; redo it after a re-authentication
	bytesRead int
	files     map[int][]byte // data groups by number, for passive authentication
	verif     Verification
}

// Read unlocks the card behind t with key and reads it. The returned error is one
// clear sentence; nothing personal is in it.
func Read(ctx context.Context, t iso7816.Transport, key AccessKey, opt Options) (*Document, error) {
	start := time.Now()
	if opt.Now == nil {
		opt.Now = time.Now
	}
	r := &reader{opt: opt, key: key, conn: iso7816.NewConn(t), files: map[int][]byte{}}
	switch opt.Extended {
	case ExtendedOn:
		r.extended = true
	case ExtendedAuto:
		r.extended = ATRAllowsExtended(opt.ATR)
	}
	r.conn.Extended = r.extended
	r.conn.Trace = opt.Trace
	doc, err := r.run(ctx)
	st := r.conn.Stats()
	stats := &Stats{APDUs: st.APDUs, BytesIn: st.BytesIn, BytesOut: st.BytesOut, DurationMS: time.Since(start).Milliseconds(), Extended: r.extended}
	if err != nil {
		return nil, err
	}
	doc.Stats = stats
	return doc, nil
}

func (r *reader) progress(p Progress) {
	if r.opt.Progress != nil {
		p.BytesRead = r.bytesRead
		r.opt.Progress(p)
	}
}

func (r *reader) run(ctx context.Context) (*Document, error) {
	r.progress(Progress{Step: "access"})
	if err := r.authenticate(ctx); err != nil {
		return nil, err
	}

	// DG14 first: chip authentication replaces the session keys, and everything
	// read after it is protected by keys only the genuine chip could derive.
	dg14, err := r.readFile(ctx, dataGroup(14))
	switch {
	case err == nil:
		r.files[14] = dg14
		r.progress(Progress{Step: "chip_auth"})
		r.verif.ChipAuth = r.chipAuthenticate(ctx, dg14)
		if r.verif.ChipAuth.State == AuthFailed && r.channel == nil {
			// A failed chip authentication leaves the card without a session.
			if err := r.reauthenticate(ctx); err != nil {
				return nil, err
			}
		}
	case iso7816.IsStatus(err, iso7816.SWFileNotFound):
		r.verif.ChipAuth = AuthResult{State: AuthNotSupported, Reason: "the card has no DG14"}
	default:
		return nil, fmt.Errorf("read DG14: %w", err)
	}

	wanted := []lds.File{lds.FileCOM, dataGroup(1), dataGroup(13), dataGroup(15), lds.FileSOD}
	if !r.opt.NoPhoto {
		wanted = append(wanted, dataGroup(2))
	}
	var sod []byte
	for _, f := range wanted {
		r.progress(Progress{Step: "read", File: f.Name})
		b, err := r.readFile(ctx, f)
		if iso7816.IsStatus(err, iso7816.SWFileNotFound) {
			continue // absent files are reported as such (null fields, absent SOD)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Name, err)
		}
		switch {
		case f.DataGroup > 0:
			r.files[f.DataGroup] = b
		case f == lds.FileSOD:
			sod = b
		}
	}

	if dg15, ok := r.files[15]; ok {
		r.progress(Progress{Step: "active_auth"})
		r.verif.ActiveAuth = r.activeAuthenticate(ctx, dg15)
	} else {
		r.verif.ActiveAuth = AuthResult{State: AuthNotSupported, Reason: "the card has no DG15"}
	}

	r.progress(Progress{Step: "passive_auth"})
	pa := passiveauth.Verify(sod, r.files, r.opt.Trust, r.opt.Now())
	r.verif.Passive = PassiveResult{State: pa.Status, SignatureAlgorithm: pa.SignatureAlgorithm, Reason: pa.Reason, SODHash: pa.SODHash,
		DataGroups: map[string]string{}}
	for n, s := range pa.DataGroups {
		r.verif.Passive.DataGroups[fmt.Sprintf("DG%d", n)] = s
	}

	doc, err := buildDocument(r.files)
	if err != nil {
		return nil, err
	}
	v := r.verif
	doc.Verification = &v
	r.progress(Progress{Step: "done"})
	return doc, nil
}

// authenticate opens a secure messaging session: PACE when EF.CardAccess offers
// it (the CCCD's main path), else BAC with the MRZ key.
func (r *reader) authenticate(ctx context.Context) error {
	if r.cardInfo == nil {
		ca, err := r.readCardAccess(ctx)
		if err != nil {
			return err
		}
		r.cardInfo = ca
	}
	if r.cardInfo != nil && len(r.cardInfo.PACE) > 0 && r.opt.Access != AccessBAC {
		return r.pace(ctx)
	}
	if r.key.MRZInput == "" {
		return fmt.Errorf("%w: the card has no PACE, so a CAN cannot open it; use the MRZ", ErrNoAccessPath)
	}
	if err := r.selectApplication(ctx, r.conn); err != nil {
		return err
	}
	ch, err := bac.Authenticate(ctx, r.conn, r.key.MRZInput, r.opt.Rand)
	if err != nil {
		if errors.Is(err, bac.ErrAccessDenied) {
			return fmt.Errorf("%w (BAC)", ErrAccessDenied)
		}
		return fmt.Errorf("basic access control: %w", err)
	}
	r.useChannel(ch)
	r.verif.Access = "BAC"
	return nil
}

func (r *reader) pace(ctx context.Context) error {
	pw := pace.Password{Kind: pace.CAN, Value: r.key.CAN}
	r.verif.Access = "PACE-CAN"
	if r.key.CAN == "" {
		pw = pace.Password{Kind: pace.MRZ, Value: r.key.MRZInput}
		r.verif.Access = "PACE-MRZ"
	}
	var lastErr error
	for _, info := range r.cardInfo.PACE {
		if _, err := info.PACEProtocol(); err != nil {
			lastErr = err
			continue // a mapping we do not implement; try the next PACEInfo
		}
		ch, err := pace.Establish(ctx, r.conn, info, pw, r.opt.Rand)
		if err != nil {
			if errors.Is(err, pace.ErrAccessDenied) {
				return fmt.Errorf("%w (%v)", ErrAccessDenied, err)
			}
			return fmt.Errorf("PACE: %w", err)
		}
		r.useChannel(ch)
		return r.selectApplication(ctx, r.sm)
	}
	return fmt.Errorf("%w: %v", ErrNoAccessPath, lastErr)
}

func (r *reader) useChannel(ch *securemessaging.Channel) {
	r.channel = ch
	r.sm = ch
}

// reauthenticate starts over after the card dropped the session (a refused
// extended APDU, a failed chip authentication): access, application, and chip
// authentication again if it had succeeded.
func (r *reader) reauthenticate(ctx context.Context) error {
	r.channel, r.sm = nil, nil
	// An unprotected command ends whatever session the card still holds (it
	// answers 6987/6988 and forgets the keys), so the access protocol below
	// starts from a clean card. Its answer does not matter.
	_, _ = r.conn.Send(ctx, iso7816.Command{INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{0x01, 0x1C}})
	if err := r.authenticate(ctx); err != nil {
		return fmt.Errorf("re-authenticate: %w", err)
	}
	if r.chipAuth {
		if res := r.chipAuthenticate(ctx, r.files[14]); res.State != AuthOK {
			return fmt.Errorf("re-authenticate: chip authentication: %s", res.Reason)
		}
	}
	return nil
}

func (r *reader) selectApplication(ctx context.Context, s iso7816.Sender) error {
	resp, err := s.Send(ctx, iso7816.Command{CLA: 0x00, INS: 0xA4, P1: 0x04, P2: 0x0C, Data: AIDLDS1})
	if err != nil {
		return fmt.Errorf("select the eMRTD application: %w", err)
	}
	switch resp.SW {
	case iso7816.SWOK:
		return nil
	case iso7816.SWFileNotFound:
		return ErrNotEMRTD
	}
	return fmt.Errorf("select the eMRTD application: %w", resp.Err())
}

// readCardAccess reads EF.CardAccess in the master file without secure messaging.
// A card without it (no PACE) gives nil. The CCCD answers SELECT MF with 6D00,
// so the file is read by short file identifier, or selected directly.
func (r *reader) readCardAccess(ctx context.Context) (*securityinfo.SecurityInfos, error) {
	b, err := readWhole(ctx, r.conn, lds.FileCardAccess, 256, nil)
	if err != nil && !iso7816.IsStatus(err, iso7816.SWFileNotFound) {
		// Some cards refuse READ BINARY by SFI in the MF: select the file instead.
		resp, serr := r.conn.Send(ctx, iso7816.Command{INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{0x01, 0x1C}})
		if serr != nil {
			return nil, fmt.Errorf("select EF.CardAccess: %w", serr)
		}
		if resp.SW == iso7816.SWFileNotFound {
			return nil, nil
		}
		if !resp.OK() {
			return nil, fmt.Errorf("read EF.CardAccess: %w", err)
		}
		b, err = readSelected(ctx, r.conn, 256)
	}
	if iso7816.IsStatus(err, iso7816.SWFileNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read EF.CardAccess: %w", err)
	}
	si, err := securityinfo.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("EF.CardAccess: %w", err)
	}
	return si, nil
}

func (r *reader) chipAuthenticate(ctx context.Context, dg14 []byte) AuthResult {
	si, err := securityinfo.ParseDG14(dg14)
	if err != nil {
		return AuthResult{State: AuthFailed, Reason: "DG14 does not parse: " + err.Error()}
	}
	r.dg14 = si
	ca, pk, err := si.ChipAuthenticationPair()
	if err != nil {
		return AuthResult{State: AuthNotSupported, Reason: err.Error()}
	}
	alg := ca.Protocol.String()
	if p, err := ca.CAProtocol(); err == nil {
		alg = p.String()
	}
	ch, err := chipauth.Authenticate(ctx, r.channel, ca, pk, r.opt.Rand)
	if err != nil {
		r.channel, r.sm = nil, nil
		return AuthResult{State: AuthFailed, Algorithm: alg, Reason: err.Error()}
	}
	r.useChannel(ch)
	// Success shows only when the card's next answer verifies under the new keys:
	// SELECT the application again, which costs one APDU and proves the keys.
	if err := r.selectApplication(ctx, r.sm); err != nil {
		r.channel, r.sm = nil, nil
		return AuthResult{State: AuthFailed, Algorithm: alg, Reason: "the card's answer does not verify under the new keys: " + err.Error()}
	}
	r.chipAuth = true
	return AuthResult{State: AuthOK, Algorithm: alg}
}

func (r *reader) activeAuthenticate(ctx context.Context, dg15 []byte) AuthResult {
	spki, err := lds.ParseDG15(dg15)
	if err != nil {
		return AuthResult{State: AuthFailed, Reason: "DG15 does not parse: " + err.Error()}
	}
	var info *securityinfo.ActiveAuthenticationInfo
	if r.dg14 != nil && len(r.dg14.ActiveAuthentication) > 0 {
		info = &r.dg14.ActiveAuthentication[0]
	}
	res, err := activeauth.Authenticate(ctx, r.sm, spki, info, r.opt.Rand)
	if err != nil {
		return AuthResult{State: AuthFailed, Algorithm: res.Algorithm, Reason: err.Error()}
	}
	if !res.OK {
		return AuthResult{State: AuthFailed, Algorithm: res.Algorithm, Reason: res.Reason}
	}
	return AuthResult{State: AuthOK, Algorithm: res.Algorithm}
}

// readFile reads a whole file of the application over the session, falling back
// from extended to short APDUs (with a new session) if the card refuses.
func (r *reader) readFile(ctx context.Context, f lds.File) ([]byte, error) {
	chunk := r.channel.MaxShortRead()
	if r.extended {
		chunk = maxExtendedRead
	}
	onChunk := func(done, total int) {
		r.progress(Progress{Step: "read", File: f.Name, FileDone: done, FileTotal: total})
	}
	before := r.bytesRead
	b, err := readWhole(ctx, r.sm, f, chunk, func(done, total int) {
		r.bytesRead = before + done
		onChunk(done, total)
	})
	if err == nil || !r.extended || !refusedExtended(err) {
		return b, err
	}
	// The card or reader refused an extended APDU. The card has dropped secure
	// messaging with it; open a new session and continue with short APDUs.
	r.extended, r.conn.Extended = false, false
	if err := r.reauthenticate(ctx); err != nil {
		return nil, err
	}
	r.bytesRead = before
	return r.readFile(ctx, f)
}

// maxExtendedRead is the plaintext asked for per extended READ BINARY: the
// protected response (DO'87' header and padding, DO'99', DO'8E') must fit 65536.
const maxExtendedRead = 0xFF00

func refusedExtended(err error) bool {
	return iso7816.IsStatus(err, iso7816.SWWrongLength) || iso7816.IsStatus(err, iso7816.SWINSNotSupported) ||
		iso7816.IsStatus(err, 0x6A86) || errors.Is(err, securemessaging.ErrAborted)
}

// readWhole reads the file f by short file identifier: the first READ BINARY
// selects it and returns the start, whose TLV header gives the size; the rest is
// read at increasing offsets in chunks of at most chunk bytes.
func readWhole(ctx context.Context, s iso7816.Sender, f lds.File, chunk int, progress func(done, total int)) ([]byte, error) {
	first := iso7816.Command{INS: 0xB0, P1: 0x80 | f.SFI, P2: 0, Ne: min(chunk, iso7816.MaxExtendedNe)}
	return readFrom(ctx, s, first, chunk, progress)
}

// readSelected reads the currently selected file.
func readSelected(ctx context.Context, s iso7816.Sender, chunk int) ([]byte, error) {
	return readFrom(ctx, s, iso7816.Command{INS: 0xB0, Ne: chunk}, chunk, nil)
}

// maxFileSize bounds what a card can make us allocate; the largest LDS file a
// kiosk reads (a DG2 face) stays well under it.
const maxFileSize = 1 << 20

func readFrom(ctx context.Context, s iso7816.Sender, first iso7816.Command, chunk int, progress func(done, total int)) ([]byte, error) {
	resp, err := s.Send(ctx, first)
	if err != nil {
		return nil, err
	}
	if resp.SW != iso7816.SWOK && resp.SW != iso7816.SWEndOfFile {
		return nil, resp.Err()
	}
	_, l, h, err := tlv.ParseHeader(resp.Data)
	if err != nil {
		return nil, fmt.Errorf("file header: %w", err)
	}
	total := h + l
	if total > maxFileSize {
		return nil, fmt.Errorf("file claims %d bytes, more than any LDS file", total)
	}
	if len(resp.Data) > total {
		resp.Data = resp.Data[:total]
	}
	buf := make([]byte, 0, total)
	buf = append(buf, resp.Data...)
	if progress != nil {
		progress(len(buf), total)
	}
	for len(buf) < total {
		off := len(buf)
		if off > 0x7FFF {
			return nil, fmt.Errorf("file of %d bytes needs offsets beyond 32767 (odd INS), not supported", total)
		}
		n := min(chunk, total-off)
		resp, err := s.Send(ctx, iso7816.Command{INS: 0xB0, P1: byte(off >> 8), P2: byte(off), Ne: n})
		if err != nil {
			return nil, err
		}
		if resp.SW != iso7816.SWOK && resp.SW != iso7816.SWEndOfFile {
			return nil, resp.Err()
		}
		if len(resp.Data) == 0 {
			return nil, fmt.Errorf("card returned no data at offset %d of %d", off, total)
		}
		if len(resp.Data) > n {
			return nil, fmt.Errorf("card returned %d bytes for %d asked", len(resp.Data), n)
		}
		buf = append(buf, resp.Data...)
		if progress != nil {
			progress(len(buf), total)
		}
	}
	return buf, nil
}

// ATRAllowsExtended reads the card capabilities in the ATR's historical bytes
// (ISO/IEC 7816-4 §8.1.1.2.7, compact-TLV tag 7): the third software function
// table's bit b7 says the card accepts extended Lc and Le.
func ATRAllowsExtended(atr []byte) bool {
	hist := historicalBytes(atr)
	if len(hist) < 1 || hist[0] != 0x80 {
		return false
	}
	for i := 1; i < len(hist); {
		tag, l := hist[i]>>4, int(hist[i]&0x0F)
		if i+1+l > len(hist) {
			return false
		}
		if tag == 7 && l >= 3 {
			return hist[i+3]&0x40 != 0
		}
		i += 1 + l
	}
	return false
}

// historicalBytes extracts T1..TK from an ATR (ISO/IEC 7816-3 §8.2): T0 and each
// TDi say, in their high nibble, which interface bytes follow.
func historicalBytes(atr []byte) []byte {
	if len(atr) < 2 {
		return nil
	}
	k := int(atr[1] & 0x0F)
	pos := 1 // T0, then each TDi
	for {
		y := atr[pos] >> 4
		n := bits.OnesCount8(y)
		if y&0x8 == 0 {
			pos += n
			break
		}
		pos += n
		if pos >= len(atr) {
			return nil
		}
	}
	start := pos + 1
	if start+k > len(atr) {
		return nil
	}
	return atr[start : start+k]
}

// dataGroup returns the file entry of data group n, which callers pass as a
// constant in 1..16.
func dataGroup(n int) lds.File {
	f, err := lds.DataGroupFile(n)
	if err != nil {
		panic(err)
	}
	return f
}

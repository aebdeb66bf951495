package virtualcard

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/bac"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/lds"
	"github.com/vnkiosk/kiosk/devices/idcard/mrz"
	"github.com/vnkiosk/kiosk/devices/idcard/pace"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
	"github.com/vnkiosk/kiosk/devices/idcard/testpki"
	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// One PKI per flavour for the whole test binary: generating them is the slow part.
var testPKIs = map[testpki.Flavour]func() (*testpki.PKI, error){
	testpki.RSA:            sync.OnceValues(func() (*testpki.PKI, error) { return testpki.New(testpki.RSA) }),
	testpki.ECDSABrainpool: sync.OnceValues(func() (*testpki.PKI, error) { return testpki.New(testpki.ECDSABrainpool) }),
}

func testPKI(t testing.TB, f testpki.Flavour) *testpki.PKI {
	t.Helper()
	p, err := testPKIs[f]()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newCard personalises a card, with the shared RSA PKI unless opts names one.
func newCard(t testing.TB, opts Options) *Card {
	t.Helper()
	if opts.PKI == nil {
		opts.PKI = testPKI(t, testpki.RSA)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// connect is the terminal's plain connection to c, in-process.
func connect(c *Card, extended bool) *iso7816.Conn {
	conn := iso7816.NewConn(Transport(c))
	conn.Extended = extended
	return conn
}

var selectLDS1 = iso7816.Command{INS: 0xA4, P1: 0x04, P2: 0x0C, Data: aidLDS1}

// paceInfo reads EF.CardAccess in the clear and returns its PACEInfo.
func paceInfo(ctx context.Context, s iso7816.Sender) (securityinfo.PACEInfo, error) {
	b, err := readWhole(ctx, s, lds.FileCardAccess, 0xDF)
	if err != nil {
		return securityinfo.PACEInfo{}, fmt.Errorf("EF.CardAccess: %w", err)
	}
	si, err := securityinfo.Parse(b)
	if err != nil {
		return securityinfo.PACEInfo{}, err
	}
	return pace.Select(si.PACE)
}

// openPACE runs PACE with pw and selects the application under secure messaging.
func openPACE(ctx context.Context, conn *iso7816.Conn, pw pace.Password) (*securemessaging.Channel, error) {
	info, err := paceInfo(ctx, conn)
	if err != nil {
		return nil, err
	}
	ch, err := pace.Establish(ctx, conn, info, pw, nil)
	if err != nil {
		return nil, err
	}
	if _, err := sendOK(ctx, ch, selectLDS1); err != nil {
		return nil, fmt.Errorf("select LDS1: %w", err)
	}
	return ch, nil
}

// openBAC selects the application in the clear and runs BAC.
func openBAC(ctx context.Context, conn *iso7816.Conn, keyInput string) (*securemessaging.Channel, error) {
	if _, err := sendOK(ctx, conn, selectLDS1); err != nil {
		return nil, fmt.Errorf("select LDS1: %w", err)
	}
	return bac.Authenticate(ctx, conn, keyInput, nil)
}

func mustPACE(t testing.TB, c *Card, extended bool) (*iso7816.Conn, *securemessaging.Channel) {
	t.Helper()
	conn := connect(c, extended)
	ch, err := openPACE(context.Background(), conn, pace.Password{Kind: pace.CAN, Value: c.CAN()})
	if err != nil {
		t.Fatalf("PACE-CAN: %v", err)
	}
	return conn, ch
}

func sendOK(ctx context.Context, s iso7816.Sender, cmd iso7816.Command) (iso7816.Response, error) {
	resp, err := s.Send(ctx, cmd)
	if err != nil {
		return resp, err
	}
	return resp, resp.Err()
}

// readWhole reads file f the way the reader does: by short file identifier, then
// from the current file at increasing offsets, chunk bytes at a time.
func readWhole(ctx context.Context, s iso7816.Sender, f lds.File, chunk int) ([]byte, error) {
	resp, err := s.Send(ctx, iso7816.Command{INS: 0xB0, P1: 0x80 | f.SFI, Ne: chunk})
	if err != nil {
		return nil, err
	}
	if resp.SW != iso7816.SWOK && resp.SW != iso7816.SWEndOfFile {
		return nil, resp.Err()
	}
	_, l, h, err := tlv.ParseHeader(resp.Data)
	if err != nil {
		return nil, err
	}
	buf := resp.Data[:min(len(resp.Data), h+l)]
	for len(buf) < h+l {
		off := len(buf)
		resp, err := s.Send(ctx, iso7816.Command{INS: 0xB0, P1: byte(off >> 8), P2: byte(off), Ne: min(chunk, h+l-off)})
		if err != nil {
			return nil, err
		}
		if resp.SW != iso7816.SWOK && resp.SW != iso7816.SWEndOfFile {
			return nil, resp.Err()
		}
		if len(resp.Data) == 0 {
			return nil, fmt.Errorf("no data at offset %d", off)
		}
		buf = append(buf, resp.Data...)
	}
	return buf, nil
}

// documentFromFiles rebuilds the Document from DG1, DG2 and DG13 the way
// devices/idcard does, so the tests can compare a card's content with its
// profile field by field.
func documentFromFiles(t testing.TB, files map[int][]byte) *idcard.Document {
	t.Helper()
	d := &idcard.Document{}
	text, err := lds.ParseDG1(files[1])
	if err != nil {
		t.Fatal(err)
	}
	m, err := mrz.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	d.MRZ, d.DocumentNumber = m.Lines, &m.DocumentNumber
	g, err := lds.ParseDG13(files[13])
	if err != nil {
		t.Fatal(err)
	}
	date := func(p *lds.Date) *string {
		if p == nil {
			return nil
		}
		s := p.String()
		return &s
	}
	d.IDNumber, d.FullName, d.DateOfBirth, d.Sex = g.IDNumber, g.FullName, date(g.DateOfBirth), g.Sex
	d.Nationality, d.Ethnicity, d.Religion = g.Nationality, g.Ethnicity, g.Religion
	d.PlaceOfOrigin, d.PlaceOfResidence, d.IdentifyingFeatures = g.PlaceOfOrigin, g.PlaceOfResidence, g.IdentifyingFeatures
	d.DateOfIssue = date(g.DateOfIssue)
	if e := g.DateOfExpiry; e != nil {
		s := idcard.NoExpiry
		if !e.None {
			s = e.Date.String()
		}
		d.DateOfExpiry = &s
	}
	if g.Parents != nil {
		d.FatherName, d.MotherName = g.Parents.Father, g.Parents.Mother
	}
	d.SpouseName, d.OldIDNumber = g.Spouse, g.OldIDNumber
	if b, ok := files[2]; ok {
		faces, err := lds.ParseDG2(b)
		if err != nil {
			t.Fatal(err)
		}
		d.Photo = &idcard.Photo{MIME: faces[0].MIME, Data: faces[0].Image}
	}
	return d
}

package virtualcard

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/activeauth"
	"github.com/vnkiosk/kiosk/devices/idcard/chipauth"
	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
	"github.com/vnkiosk/kiosk/devices/idcard/lds"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
	"github.com/vnkiosk/kiosk/devices/idcard/testpki"
	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// CardAccessHex is EF.CardAccess of the Vietnamese chip ID card as open-source
// readers publish it (DOMAIN.md): TerminalAuthenticationInfo v1,
// ChipAuthenticationInfo id-CA-ECDH-AES-CBC-CMAC-128 v1 and PACEInfo
// id-PACE-ECDH-GM-AES-CBC-CMAC-128 v2 with standardized domain parameters 13
// (brainpoolP256r1). The virtual card serves exactly these bytes.
const CardAccessHex = "3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010d"

// paceParameterID is brainpoolP256r1 (ICAO 9303 Part 11 §9.5.1), the curve of
// the CCCD's PACE and of its chip authentication key.
const paceParameterID = 13

// ef is one elementary file of the card.
type ef struct {
	lds.File
	data []byte
	// inMF marks EF.CardAccess, which lives in the master file and is readable
	// before any access protocol.
	inMF bool
	// denied marks a file that needs Terminal Authentication (DG3): 6982 even
	// under secure messaging.
	denied bool
}

// chip is what personalisation writes into the card: the files and the keys.
type chip struct {
	files      []*ef
	cardAccess *securityinfo.SecurityInfos
	caInfo     securityinfo.ChipAuthenticationInfo
	caCurve    *eccurve.Curve
	caKey      []byte
	aa         activeauth.Signer
}

// personalise builds every file of the card from a completed profile: EF.CardAccess,
// EF.COM, DG1, DG2 (when the profile has a photo), DG3 (present, never readable),
// DG13, DG14 with a fresh chip authentication key, DG15 with a fresh active
// authentication key, and EF.SOD signed by pki's Document Signer over DG1, DG2,
// DG13, DG14 and DG15 with SHA-256.
func personalise(d *idcard.Document, pki *testpki.PKI, aaKey AAKey, rnd io.Reader) (*chip, error) {
	c := &chip{}
	cardAccess, err := hex.DecodeString(CardAccessHex)
	if err != nil {
		return nil, err
	}
	if c.cardAccess, err = securityinfo.Parse(cardAccess); err != nil {
		return nil, fmt.Errorf("virtualcard: EF.CardAccess: %w", err)
	}
	if len(c.cardAccess.ChipAuthentication) != 1 || len(c.cardAccess.PACE) != 1 {
		return nil, errors.New("virtualcard: EF.CardAccess must announce one PACE and one chip authentication")
	}

	dg1, err := lds.EncodeDG1(joinLines(d.MRZ))
	if err != nil {
		return nil, fmt.Errorf("virtualcard: DG1: %w", err)
	}
	g13, err := dg13(d)
	if err != nil {
		return nil, fmt.Errorf("virtualcard: DG13: %w", err)
	}
	dg13, err := lds.EncodeDG13(g13)
	if err != nil {
		return nil, fmt.Errorf("virtualcard: DG13: %w", err)
	}
	var dg2 []byte
	if d.Photo != nil {
		face, err := lds.FaceFromJPEG(d.Photo.Data)
		if err != nil {
			return nil, fmt.Errorf("virtualcard: DG2: %w", err)
		}
		if dg2, err = lds.EncodeDG2(face); err != nil {
			return nil, fmt.Errorf("virtualcard: DG2: %w", err)
		}
	}
	// DG3 (fingerprints) exists but needs Terminal Authentication, which no
	// kiosk performs: its content is never served, so a placeholder will do.
	dg3 := tlv.Encode(lds.TagDG3, tlv.Encode(0x02, []byte{0}))

	// Chip authentication: a fresh static key on the PACE curve.
	c.caInfo = c.cardAccess.ChipAuthentication[0]
	if c.caCurve, err = eccurve.ByParameterID(paceParameterID); err != nil {
		return nil, err
	}
	if c.caKey, err = c.caCurve.GenerateScalar(rnd); err != nil {
		return nil, fmt.Errorf("virtualcard: chip authentication key: %w", err)
	}
	caCard, err := chipauth.NewCard(c.caInfo, c.caCurve, c.caKey)
	if err != nil {
		return nil, fmt.Errorf("virtualcard: chip authentication: %w", err)
	}
	caPub, err := caCard.PublicKeyInfo(true)
	if err != nil {
		return nil, fmt.Errorf("virtualcard: chip authentication key: %w", err)
	}

	// Active authentication.
	dg14Infos := &securityinfo.SecurityInfos{
		ChipAuthentication:           []securityinfo.ChipAuthenticationInfo{c.caInfo},
		ChipAuthenticationPublicKeys: []securityinfo.ChipAuthenticationPublicKeyInfo{caPub},
		TerminalAuthentication:       c.cardAccess.TerminalAuthentication,
	}
	switch aaKey {
	case AARSA, "":
		key, err := rsa.GenerateKey(randOrDefault(rnd), 2048)
		if err != nil {
			return nil, fmt.Errorf("virtualcard: active authentication key: %w", err)
		}
		c.aa = activeauth.RSASigner{Key: key, Hash: crypto.SHA256, Rand: rnd}
	case AAECDSA:
		k, err := c.caCurve.GenerateScalar(rnd)
		if err != nil {
			return nil, fmt.Errorf("virtualcard: active authentication key: %w", err)
		}
		c.aa = activeauth.ECDSASigner{Curve: c.caCurve, D: k, Hash: crypto.SHA256, Rand: rnd}
		alg, err := activeauth.PlainSignatureAlgorithm(crypto.SHA256)
		if err != nil {
			return nil, err
		}
		dg14Infos.ActiveAuthentication = []securityinfo.ActiveAuthenticationInfo{
			{Protocol: securityinfo.OIDAA, Version: 1, SignatureAlgorithm: alg},
		}
	default:
		return nil, fmt.Errorf("virtualcard: unknown active authentication key %q (want %q or %q)", aaKey, AARSA, AAECDSA)
	}
	dg14, err := securityinfo.EncodeDG14(dg14Infos)
	if err != nil {
		return nil, fmt.Errorf("virtualcard: DG14: %w", err)
	}
	aaPub, err := c.aa.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("virtualcard: DG15: %w", err)
	}
	dg15, err := lds.EncodeDG15(aaPub)
	if err != nil {
		return nil, fmt.Errorf("virtualcard: DG15: %w", err)
	}

	signed := map[int][]byte{1: dg1, 13: dg13, 14: dg14, 15: dg15}
	tags := []tlv.Tag{lds.TagDG1}
	if dg2 != nil {
		signed[2] = dg2
		tags = append(tags, lds.TagDG2)
	}
	tags = append(tags, lds.TagDG3, lds.TagDG13, lds.TagDG14, lds.TagDG15)
	com, err := lds.EncodeCOM(lds.COM{LDSVersion: "0107", UnicodeVersion: "040000", Tags: tags})
	if err != nil {
		return nil, fmt.Errorf("virtualcard: EF.COM: %w", err)
	}
	sod, err := pki.SignSOD(signed, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("virtualcard: EF.SOD: %w", err)
	}

	c.files = []*ef{
		{File: lds.FileCardAccess, data: cardAccess, inMF: true},
		{File: lds.FileCOM, data: com},
		{File: lds.FileSOD, data: sod},
		{File: dataGroup(3), data: dg3, denied: true},
	}
	for _, n := range []int{1, 2, 13, 14, 15} {
		if b, ok := signed[n]; ok {
			c.files = append(c.files, &ef{File: dataGroup(n), data: b})
		}
	}
	return c, nil
}

// forge edits a personalised chip after signing: the low bit of the last byte of
// data group tamper (0 = none) flips, and EF.SOD goes when noSOD.
func (c *chip) forge(tamper int, noSOD bool) error {
	kept := c.files[:0]
	found := tamper == 0
	for _, f := range c.files {
		if noSOD && f.File == lds.FileSOD {
			continue
		}
		if tamper != 0 && f.DataGroup == tamper {
			f.data = bytes.Clone(f.data)
			f.data[len(f.data)-1] ^= 1
			found = true
		}
		kept = append(kept, f)
	}
	c.files = kept
	if !found {
		return fmt.Errorf("virtualcard: cannot tamper with DG%d: the card has no such file", tamper)
	}
	return nil
}

func joinLines(lines []string) string {
	s := ""
	for _, l := range lines {
		s += l
	}
	return s
}

// dataGroup returns the file of data group n, a constant in 1..16.
func dataGroup(n int) lds.File {
	f, err := lds.DataGroupFile(n)
	if err != nil {
		panic(err)
	}
	return f
}

// Package securityinfo owns the SecurityInfos of ICAO 9303 Part 11 §9.2: the
// ASN.1 SET found in EF.CardAccess (which tells the terminal how to run PACE) and
// in DG14 (chip authentication keys, the active authentication signature
// algorithm). It decodes PACEInfo, PACEDomainParameterInfo, ChipAuthenticationInfo,
// ChipAuthenticationPublicKeyInfo, TerminalAuthenticationInfo and
// ActiveAuthenticationInfo, decodes the PACE and CA protocol OIDs of §9.2.1 and
// §9.2.5 into mapping, key agreement and cipher, keeps every SecurityInfo it does
// not know as raw DER (a card may announce protocols newer than this code, which
// must not stop it from reading the rest), and encodes all of them again for the
// virtual card. It also parses and encodes EC SubjectPublicKeyInfos, named-curve or
// with explicit parameters, because cards put brainpool keys with explicit
// parameters in DG14 and DG15 and crypto/x509 knows no brainpool curve.
package securityinfo

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// PACEInfo announces one PACE protocol (§9.2.1).
type PACEInfo struct {
	Protocol asn1.ObjectIdentifier
	Version  int
	// ParameterID is the standardized domain parameter id of §9.5.1 (13 is
	// brainpoolP256r1); nil when the card gives its domain parameters in a
	// PACEDomainParameterInfo instead.
	ParameterID *int
}

// PACEProtocol decodes Protocol.
func (i PACEInfo) PACEProtocol() (PACEProtocol, error) { return ParsePACEProtocol(i.Protocol) }

// PACEDomainParameterInfo carries proprietary PACE domain parameters (§9.2.2).
// They are kept as DER: standardized parameters are what eMRTDs use.
type PACEDomainParameterInfo struct {
	Protocol        asn1.ObjectIdentifier
	DomainParameter []byte // AlgorithmIdentifier, DER
	ParameterID     *int
}

// ChipAuthenticationInfo announces chip authentication (§9.2.5).
type ChipAuthenticationInfo struct {
	Protocol asn1.ObjectIdentifier
	Version  int
	KeyID    *int // identifies the key when the chip has several
}

// CAProtocol decodes Protocol.
func (i ChipAuthenticationInfo) CAProtocol() (CAProtocol, error) { return ParseCAProtocol(i.Protocol) }

// ChipAuthenticationPublicKeyInfo is the chip's static key-agreement key (§9.2.6).
type ChipAuthenticationPublicKeyInfo struct {
	Protocol             asn1.ObjectIdentifier // OIDPKECDH or OIDPKDH
	SubjectPublicKeyInfo []byte                // DER, as on the card
	KeyID                *int
	// Curve and Point are set when the key is an EC key on a curve eccurve
	// knows; ECPublicKey explains why they are not.
	Curve *eccurve.Curve
	Point eccurve.Point
}

// ECPublicKey returns the EC key, or why there is none.
func (i ChipAuthenticationPublicKeyInfo) ECPublicKey() (*eccurve.Curve, eccurve.Point, error) {
	if i.Curve != nil {
		return i.Curve, i.Point, nil
	}
	if !i.Protocol.Equal(OIDPKECDH) {
		return nil, eccurve.Point{}, fmt.Errorf("securityinfo: chip authentication key %s is not an ECDH key", i.Protocol)
	}
	return ParseECPublicKey(i.SubjectPublicKeyInfo)
}

// TerminalAuthenticationInfo announces terminal authentication (§9.2.4).
type TerminalAuthenticationInfo struct {
	Protocol asn1.ObjectIdentifier
	Version  int
	EFCVCA   []byte // optional FileID, DER; nil when absent
}

// ActiveAuthenticationInfo names the signature algorithm of ECDSA active
// authentication (§9.2.8), e.g. ecdsa-plain-SHA256 0.4.0.127.0.7.1.1.4.1.3.
type ActiveAuthenticationInfo struct {
	Protocol           asn1.ObjectIdentifier // OIDAA
	Version            int
	SignatureAlgorithm asn1.ObjectIdentifier
}

// UnknownInfo is a SecurityInfo this package does not decode, kept as DER.
type UnknownInfo struct {
	Protocol asn1.ObjectIdentifier
	Raw      []byte
}

// SecurityInfos is a decoded SecurityInfos SET, grouped by kind.
type SecurityInfos struct {
	PACE                         []PACEInfo
	PACEDomainParameters         []PACEDomainParameterInfo
	ChipAuthentication           []ChipAuthenticationInfo
	ChipAuthenticationPublicKeys []ChipAuthenticationPublicKeyInfo
	TerminalAuthentication       []TerminalAuthenticationInfo
	ActiveAuthentication         []ActiveAuthenticationInfo
	Unknown                      []UnknownInfo
}

// DG14 is tagged 6E (ICAO 9303 Part 10 §4.7.14).
const tagDG14 tlv.Tag = 0x6E

// Parse decodes a SecurityInfos SET, the content of EF.CardAccess.
func Parse(b []byte) (*SecurityInfos, error) {
	var elems []asn1.RawValue
	rest, err := asn1.UnmarshalWithParams(b, &elems, "set")
	if err != nil {
		return nil, fmt.Errorf("securityinfo: SecurityInfos: %w", err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("securityinfo: %d bytes after SecurityInfos", len(rest))
	}
	s := new(SecurityInfos)
	for i, e := range elems {
		if err := s.add(e); err != nil {
			return nil, fmt.Errorf("securityinfo: SecurityInfo %d: %w", i, err)
		}
	}
	return s, nil
}

// ParseDG14 decodes DG14: SecurityInfos inside tag 6E.
func ParseDG14(b []byte) (*SecurityInfos, error) {
	v, err := tlv.Unwrap(b, tagDG14)
	if err != nil {
		return nil, fmt.Errorf("securityinfo: DG14: %w", err)
	}
	return Parse(v)
}

// securityInfo is the generic shape of §9.2: SEQUENCE { protocol OID,
// requiredData ANY, optionalData ANY OPTIONAL }.
type securityInfo struct {
	protocol asn1.ObjectIdentifier
	fields   []asn1.RawValue // requiredData and optionalData, as present
}

func parseSecurityInfo(e asn1.RawValue) (securityInfo, error) {
	if len(e.FullBytes) == 0 || e.FullBytes[0] != 0x30 {
		return securityInfo{}, errors.New("not a SEQUENCE")
	}
	var fields []asn1.RawValue
	if err := unmarshalExact(e.FullBytes, &fields); err != nil {
		return securityInfo{}, err
	}
	if len(fields) == 0 {
		return securityInfo{}, errors.New("empty SEQUENCE")
	}
	var si securityInfo
	rest, err := asn1.Unmarshal(fields[0].FullBytes, &si.protocol)
	if err != nil || len(rest) > 0 {
		return securityInfo{}, errors.New("protocol is not an OBJECT IDENTIFIER")
	}
	si.fields = fields[1:]
	return si, nil
}

func (s *SecurityInfos) add(e asn1.RawValue) error {
	si, err := parseSecurityInfo(e)
	if err != nil {
		return err
	}
	p := si.protocol
	switch {
	case hasPrefix(p, OIDPACE) && len(p) == len(OIDPACE)+2:
		var v PACEInfo
		v.Protocol = p
		err = si.decode(2, 3, &v.Version, &v.ParameterID)
		s.PACE = append(s.PACE, v)
	case hasPrefix(p, OIDPACE) && len(p) == len(OIDPACE)+1:
		var v PACEDomainParameterInfo
		v.Protocol = p
		err = si.decode(2, 3, (*rawSequence)(&v.DomainParameter), &v.ParameterID)
		s.PACEDomainParameters = append(s.PACEDomainParameters, v)
	case hasPrefix(p, OIDCA) && len(p) == len(OIDCA)+2:
		var v ChipAuthenticationInfo
		v.Protocol = p
		err = si.decode(2, 3, &v.Version, &v.KeyID)
		s.ChipAuthentication = append(s.ChipAuthentication, v)
	case p.Equal(OIDPKDH) || p.Equal(OIDPKECDH):
		var v ChipAuthenticationPublicKeyInfo
		v.Protocol = p
		if err = si.decode(2, 3, (*rawSequence)(&v.SubjectPublicKeyInfo), &v.KeyID); err != nil {
			break
		}
		if p.Equal(OIDPKECDH) {
			v.Curve, v.Point, err = ParseECPublicKey(v.SubjectPublicKeyInfo)
			// A curve this code does not know leaves the key undecoded (chip
			// authentication will say so); a malformed key is the card's fault.
			if errors.Is(err, errUnknownCurve) {
				v.Curve, v.Point, err = nil, eccurve.Point{}, nil
			}
		}
		s.ChipAuthenticationPublicKeys = append(s.ChipAuthenticationPublicKeys, v)
	case p.Equal(OIDTA):
		var v TerminalAuthenticationInfo
		v.Protocol = p
		err = si.decode(2, 3, &v.Version, (*rawAny)(&v.EFCVCA))
		s.TerminalAuthentication = append(s.TerminalAuthentication, v)
	case p.Equal(OIDAA):
		var v ActiveAuthenticationInfo
		v.Protocol = p
		err = si.decode(3, 3, &v.Version, &v.SignatureAlgorithm)
		s.ActiveAuthentication = append(s.ActiveAuthentication, v)
	default:
		s.Unknown = append(s.Unknown, UnknownInfo{Protocol: p, Raw: slices.Clone(e.FullBytes)})
	}
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// rawSequence receives a DER SEQUENCE as bytes; rawAny receives any DER value.
type (
	rawSequence []byte
	rawAny      []byte
)

// decode fills dst from the fields after the protocol OID: the first min of them
// are required, up to max may be present. A *int destination is optional data.
func (si securityInfo) decode(min, max int, dst ...any) error {
	n := len(si.fields) + 1 // counting the protocol
	if n < min || n > max {
		return fmt.Errorf("%d elements, want %d to %d", n, min, max)
	}
	for i, f := range si.fields {
		var err error
		switch d := dst[i].(type) {
		case *int:
			err = unmarshalExact(f.FullBytes, d)
		case **int:
			v := new(int)
			err = unmarshalExact(f.FullBytes, v)
			*d = v
		case *asn1.ObjectIdentifier:
			err = unmarshalExact(f.FullBytes, d)
		case *rawSequence:
			if f.Class != asn1.ClassUniversal || f.Tag != asn1.TagSequence || !f.IsCompound {
				err = errors.New("expected a SEQUENCE")
			}
			*d = slices.Clone(f.FullBytes)
		case *rawAny:
			*d = slices.Clone(f.FullBytes)
		default:
			err = fmt.Errorf("cannot decode into %T", d)
		}
		if err != nil {
			return fmt.Errorf("element %d: %w", i+2, err)
		}
	}
	return nil
}

func unmarshalExact(b []byte, v any) error {
	rest, err := asn1.Unmarshal(b, v)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errors.New("trailing data")
	}
	return nil
}

// EncodeCardAccess encodes s as the content of EF.CardAccess: a DER SET whose
// elements are sorted as DER requires.
func EncodeCardAccess(s *SecurityInfos) ([]byte, error) {
	var elems [][]byte
	add := func(protocol asn1.ObjectIdentifier, parts ...any) error {
		b, err := encodeInfo(protocol, parts...)
		if err != nil {
			return fmt.Errorf("securityinfo: encode %s: %w", protocol, err)
		}
		elems = append(elems, b)
		return nil
	}
	var err error
	for _, v := range s.PACE {
		err = errors.Join(err, add(v.Protocol, v.Version, v.ParameterID))
	}
	for _, v := range s.PACEDomainParameters {
		err = errors.Join(err, add(v.Protocol, raw(v.DomainParameter), v.ParameterID))
	}
	for _, v := range s.ChipAuthentication {
		err = errors.Join(err, add(v.Protocol, v.Version, v.KeyID))
	}
	for _, v := range s.ChipAuthenticationPublicKeys {
		err = errors.Join(err, add(v.Protocol, raw(v.SubjectPublicKeyInfo), v.KeyID))
	}
	for _, v := range s.TerminalAuthentication {
		if v.EFCVCA == nil {
			err = errors.Join(err, add(v.Protocol, v.Version))
		} else {
			err = errors.Join(err, add(v.Protocol, v.Version, raw(v.EFCVCA)))
		}
	}
	for _, v := range s.ActiveAuthentication {
		err = errors.Join(err, add(v.Protocol, v.Version, v.SignatureAlgorithm))
	}
	for _, v := range s.Unknown {
		if _, perr := parseSecurityInfo(asn1.RawValue{FullBytes: v.Raw}); perr != nil {
			err = errors.Join(err, fmt.Errorf("securityinfo: encode unknown info %s: %w", v.Protocol, perr))
			continue
		}
		elems = append(elems, v.Raw)
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(elems, bytes.Compare)
	return tlv.Encode(0x31, elems...), nil
}

// EncodeDG14 encodes s as DG14: the SecurityInfos SET inside tag 6E.
func EncodeDG14(s *SecurityInfos) ([]byte, error) {
	set, err := EncodeCardAccess(s)
	if err != nil {
		return nil, err
	}
	return tlv.Encode(tagDG14, set), nil
}

// raw marks bytes that are already one DER value.
type raw []byte

// encodeInfo encodes SEQUENCE { protocol, parts... }; a nil *int part is optional
// data that is absent and is left out.
func encodeInfo(protocol asn1.ObjectIdentifier, parts ...any) ([]byte, error) {
	body, err := asn1.Marshal(protocol)
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		var b []byte
		switch v := p.(type) {
		case *int:
			if v == nil {
				continue
			}
			b, err = asn1.Marshal(*v)
		case raw:
			// Raw bytes go out as they are, so they must be exactly one DER
			// value: the virtual card must not emit a file a reader rejects.
			var r asn1.RawValue
			if len(v) == 0 {
				err = errors.New("empty raw value")
			} else {
				err = unmarshalExact(v, &r)
			}
			b = v
		default:
			b, err = asn1.Marshal(v)
		}
		if err != nil {
			return nil, err
		}
		body = append(body, b...)
	}
	return tlv.Encode(0x30, body), nil
}

// ChipAuthenticationPair chooses the chip authentication to run from DG14: a
// ChipAuthenticationInfo and the ChipAuthenticationPublicKeyInfo it refers to
// (same key agreement, same keyId when the info names one), ECDH before DH. A DG14
// with keys but no ChipAuthenticationInfo comes from documents issued before the
// info was defined; ICAO 9303 Part 11 §9.2.5 has the terminal assume version 1
// with 3DES (id-CA-DH-3DES-CBC-CBC or id-CA-ECDH-3DES-CBC-CBC) for them.
func (s *SecurityInfos) ChipAuthenticationPair() (ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo, error) {
	keyAgreementOf := func(pk ChipAuthenticationPublicKeyInfo) KeyAgreement {
		switch {
		case pk.Protocol.Equal(OIDPKECDH):
			return ECDH
		case pk.Protocol.Equal(OIDPKDH):
			return DH
		}
		return 0
	}
	for _, want := range []KeyAgreement{ECDH, DH} {
		if len(s.ChipAuthentication) == 0 {
			for _, pk := range s.ChipAuthenticationPublicKeys {
				if keyAgreementOf(pk) == want {
					proto := CAProtocol{KeyAgreement: want, Cipher: TripleDES}
					return ChipAuthenticationInfo{Protocol: proto.OID(), Version: 1, KeyID: pk.KeyID}, pk, nil
				}
			}
			continue
		}
		for _, ca := range s.ChipAuthentication {
			p, err := ca.CAProtocol()
			if err != nil || p.KeyAgreement != want {
				continue
			}
			for _, pk := range s.ChipAuthenticationPublicKeys {
				if keyAgreementOf(pk) != want {
					continue
				}
				if ca.KeyID != nil && (pk.KeyID == nil || *pk.KeyID != *ca.KeyID) {
					continue
				}
				return ca, pk, nil
			}
		}
	}
	return ChipAuthenticationInfo{}, ChipAuthenticationPublicKeyInfo{}, errors.New("securityinfo: no chip authentication info with a matching public key")
}

package securityinfo

import (
	"encoding/asn1"
	"fmt"
)

// Object identifiers of ICAO 9303 Part 11 §9.2 and BSI TR-03110 (bsi-de =
// 0.4.0.127.0.7, id-PK, id-TA, id-CA and id-PACE under bsi-de 2.2).
var (
	OIDPK      = asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 2, 2, 1}
	OIDPKDH    = asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 2, 2, 1, 1}
	OIDPKECDH  = asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 2, 2, 1, 2}
	OIDTA      = asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 2, 2, 2}
	OIDCA      = asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 2, 2, 3}
	OIDPACE    = asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 2, 2, 4}
	OIDAA      = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 5}
	OIDECPlain = asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 1, 1, 4, 1} // ecdsa-plain-signatures (BSI TR-03111)

	// OIDECPublicKey is id-ecPublicKey (RFC 5480), the usual algorithm of an EC
	// SubjectPublicKeyInfo.
	OIDECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidPrimeField  = asn1.ObjectIdentifier{1, 2, 840, 10045, 1, 1}
)

// KeyAgreement is the Diffie-Hellman flavour a PACE or chip authentication
// protocol runs on.
type KeyAgreement int

// Key agreements: the arc under id-PACE / id-CA.
const (
	DH   KeyAgreement = 1
	ECDH KeyAgreement = 2
)

func (k KeyAgreement) String() string {
	switch k {
	case DH:
		return "DH"
	case ECDH:
		return "ECDH"
	}
	return fmt.Sprintf("KeyAgreement(%d)", int(k))
}

// Mapping is the PACE nonce mapping of ICAO 9303 Part 11 §4.4.3.3.
type Mapping int

// Mappings.
const (
	GenericMapping            Mapping = 1
	IntegratedMapping         Mapping = 2
	ChipAuthenticationMapping Mapping = 3
)

func (m Mapping) String() string {
	switch m {
	case GenericMapping:
		return "GM"
	case IntegratedMapping:
		return "IM"
	case ChipAuthenticationMapping:
		return "CAM"
	}
	return fmt.Sprintf("Mapping(%d)", int(m))
}

// Cipher is the block cipher (and so the secure messaging) a protocol OID names.
// The values are the last arc of the OID.
type Cipher int

// Ciphers.
const (
	TripleDES Cipher = 1 // -3DES-CBC-CBC
	AES128    Cipher = 2 // -AES-CBC-CMAC-128
	AES192    Cipher = 3 // -AES-CBC-CMAC-192
	AES256    Cipher = 4 // -AES-CBC-CMAC-256
)

func (c Cipher) String() string {
	switch c {
	case TripleDES:
		return "3DES-CBC-CBC"
	case AES128:
		return "AES-CBC-CMAC-128"
	case AES192:
		return "AES-CBC-CMAC-192"
	case AES256:
		return "AES-CBC-CMAC-256"
	}
	return fmt.Sprintf("Cipher(%d)", int(c))
}

// PACEProtocol is a decoded id-PACE-* protocol OID (ICAO 9303 Part 11 §9.2.1).
type PACEProtocol struct {
	KeyAgreement KeyAgreement
	Mapping      Mapping
	Cipher       Cipher
}

// The arc under id-PACE that encodes mapping and key agreement.
var paceArcs = []struct {
	arc int
	ka  KeyAgreement
	m   Mapping
}{
	{1, DH, GenericMapping},
	{2, ECDH, GenericMapping},
	{3, DH, IntegratedMapping},
	{4, ECDH, IntegratedMapping},
	{6, ECDH, ChipAuthenticationMapping},
}

// ParsePACEProtocol decodes id-PACE-<KA>-<mapping>-<cipher>.
func ParsePACEProtocol(oid asn1.ObjectIdentifier) (PACEProtocol, error) {
	if len(oid) != len(OIDPACE)+2 || !hasPrefix(oid, OIDPACE) {
		return PACEProtocol{}, fmt.Errorf("securityinfo: %s is not a PACE protocol", oid)
	}
	arc, c := oid[len(OIDPACE)], Cipher(oid[len(OIDPACE)+1])
	for _, a := range paceArcs {
		if a.arc != arc {
			continue
		}
		// Chip Authentication Mapping is defined for AES only.
		if c < TripleDES || c > AES256 || (a.m == ChipAuthenticationMapping && c == TripleDES) {
			break
		}
		return PACEProtocol{KeyAgreement: a.ka, Mapping: a.m, Cipher: c}, nil
	}
	return PACEProtocol{}, fmt.Errorf("securityinfo: unknown PACE protocol %s", oid)
}

// OID encodes the protocol. It returns nil for a combination the standard does
// not define.
func (p PACEProtocol) OID() asn1.ObjectIdentifier {
	for _, a := range paceArcs {
		if a.ka == p.KeyAgreement && a.m == p.Mapping {
			oid := append(append(asn1.ObjectIdentifier(nil), OIDPACE...), a.arc, int(p.Cipher))
			if _, err := ParsePACEProtocol(oid); err != nil {
				return nil
			}
			return oid
		}
	}
	return nil
}

func (p PACEProtocol) String() string {
	return fmt.Sprintf("id-PACE-%s-%s-%s", p.KeyAgreement, p.Mapping, p.Cipher)
}

// CAProtocol is a decoded id-CA-* protocol OID (ICAO 9303 Part 11 §9.2.5).
type CAProtocol struct {
	KeyAgreement KeyAgreement
	Cipher       Cipher
}

// ParseCAProtocol decodes id-CA-<KA>-<cipher>.
func ParseCAProtocol(oid asn1.ObjectIdentifier) (CAProtocol, error) {
	if len(oid) != len(OIDCA)+2 || !hasPrefix(oid, OIDCA) {
		return CAProtocol{}, fmt.Errorf("securityinfo: %s is not a chip authentication protocol", oid)
	}
	ka, c := KeyAgreement(oid[len(OIDCA)]), Cipher(oid[len(OIDCA)+1])
	if (ka != DH && ka != ECDH) || c < TripleDES || c > AES256 {
		return CAProtocol{}, fmt.Errorf("securityinfo: unknown chip authentication protocol %s", oid)
	}
	return CAProtocol{KeyAgreement: ka, Cipher: c}, nil
}

// OID encodes the protocol.
func (p CAProtocol) OID() asn1.ObjectIdentifier {
	return append(append(asn1.ObjectIdentifier(nil), OIDCA...), int(p.KeyAgreement), int(p.Cipher))
}

func (p CAProtocol) String() string {
	return fmt.Sprintf("id-CA-%s-%s", p.KeyAgreement, p.Cipher)
}

func hasPrefix(oid, prefix asn1.ObjectIdentifier) bool {
	return len(oid) >= len(prefix) && oid[:len(prefix)].Equal(prefix)
}

// Package idcard reads the Vietnamese chip ID card (CCCD) as ICAO 9303 describes
// it: it unlocks the chip with PACE (CAN or MRZ) or BAC, reads EF.CardAccess, COM,
// SOD, DG1, DG2, DG13, DG14 and DG15 under secure messaging, runs chip, active and
// passive authentication, and returns one Document whose every result is reported
// on its own. Each protocol step lives in its own subpackage named after its
// section of the standard (pace, bac, securemessaging, chipauth, activeauth,
// passiveauth, lds); this package sequences them, and Service runs readers for the
// daemon.
package idcard

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
)

// Document is what a card read yields. Its JSON form is the output of
// `kioskctl card read --json` and the profile format of the virtual card: absent
// fields are null, dates are YYYY-MM-DD (YYYY-MM or YYYY when the card records no
// day or month), and a card that never expires has date_of_expiry "Không thời hạn".
type Document struct {
	IDNumber            *string `json:"id_number"`
	DocumentNumber      *string `json:"document_number"`
	FullName            *string `json:"full_name"`
	DateOfBirth         *string `json:"date_of_birth"`
	Sex                 *string `json:"sex"`
	Nationality         *string `json:"nationality"`
	Ethnicity           *string `json:"ethnicity"`
	Religion            *string `json:"religion"`
	PlaceOfOrigin       *string `json:"place_of_origin"`
	PlaceOfResidence    *string `json:"place_of_residence"`
	IdentifyingFeatures *string `json:"identifying_features"`
	DateOfIssue         *string `json:"date_of_issue"`
	DateOfExpiry        *string `json:"date_of_expiry"`
	FatherName          *string `json:"father_name"`
	MotherName          *string `json:"mother_name"`
	SpouseName          *string `json:"spouse_name"`
	OldIDNumber         *string `json:"old_id_number"`

	MRZ   []string `json:"mrz"`
	Photo *Photo   `json:"photo"`

	Verification *Verification `json:"verification,omitempty"`
	Stats        *Stats        `json:"stats,omitempty"`
}

// NoExpiry is date_of_expiry for cards that never expire, as the card writes it.
const NoExpiry = "Không thời hạn"

// Photo is the face image from DG2, always in a format Chromium shows.
type Photo struct {
	MIME string `json:"mime"`
	Data []byte `json:"base64"` // encoding/json writes []byte as base64
}

// Verification reports each authenticity check on its own: a kiosk never says a
// bare "verified".
type Verification struct {
	Access     string        `json:"access"` // PACE-CAN, PACE-MRZ or BAC
	Passive    PassiveResult `json:"passive"`
	ChipAuth   AuthResult    `json:"chip_auth"`
	ActiveAuth AuthResult    `json:"active_auth"`
}

// PassiveResult is passive authentication's verdict.
type PassiveResult struct {
	// State is valid, invalid, untrusted_chain, unknown_csca or absent.
	State              string            `json:"state"`
	SignatureAlgorithm string            `json:"signature_algorithm,omitempty"`
	DataGroups         map[string]string `json:"data_groups"` // "DG1": ok | mismatch
	Reason             string            `json:"reason,omitempty"`
	SODHash            string            `json:"sod_sha256,omitempty"`
}

// Results of chip and active authentication.
const (
	AuthOK           = "ok"
	AuthFailed       = "failed"
	AuthNotSupported = "not_supported" // the card offers no such mechanism (no DG14 / DG15)
)

// AuthResult is chip or active authentication's verdict.
type AuthResult struct {
	State     string `json:"state"`
	Algorithm string `json:"algorithm,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Stats counts what the read cost.
type Stats struct {
	APDUs      int64 `json:"apdus"`
	BytesIn    int64 `json:"bytes_in"`
	BytesOut   int64 `json:"bytes_out"`
	DurationMS int64 `json:"duration_ms"`
	Extended   bool  `json:"extended_length"`
}

// Wipe drops the personal data so that it leaves memory with the session: the
// photo bytes are zeroed in place and every field is released.
func (d *Document) Wipe() {
	if d == nil {
		return
	}
	if d.Photo != nil {
		clear(d.Photo.Data)
	}
	*d = Document{}
}

// LoadProfile reads a Document JSON file (a virtual card's profile).
func LoadProfile(file string) (*Document, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	var d Document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("profile %s: %w", file, err)
	}
	return &d, nil
}

// DataURL returns the photo as a data: URL for the UI.
func (p *Photo) DataURL() string {
	return "data:" + p.MIME + ";base64," + base64.StdEncoding.EncodeToString(p.Data)
}

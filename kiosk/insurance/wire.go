package insurance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// The gateway's wire: camel-cased Vietnamese keys, every value a string in
// practice, though clients in the field see numbers and nulls where strings
// are documented. The decoders below accept those (tolerant) but insist on an
// object with a maKetQua that looks like a code (strict), and they decode only
// what a screen shows: address, sex and the social-security number are never
// held in memory.

// errMalformed is wrapped by every decoder.
var errMalformed = errors.New("insurance: malformed answer from the gateway")

// wireString is a JSON string that also accepts a number (kept as written),
// a boolean (its literal) and null ("").
type wireString string

func (s *wireString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return errors.New("empty value")
	}
	switch b[0] {
	case 'n':
		*s = ""
		return nil
	case '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = wireString(v)
		return nil
	case '{', '[':
		return errors.New("expected a string, got an object or array")
	}
	// A number or a boolean literal: encoding/json has already checked it is
	// valid JSON, so its text is its value.
	*s = wireString(b)
	return nil
}

func (s wireString) String() string { return string(s) }

// tokenAnswer is the answer of POST /api/token/take.
type tokenAnswer struct {
	MaKetQua wireString `json:"maKetQua"`
	APIKey   *struct {
		AccessToken wireString `json:"access_token"`
		IDToken     wireString `json:"id_token"`
		ExpiresIn   wireString `json:"expires_in"`
	} `json:"APIKey"`
}

// checkAnswer is the part of a KQNhanLichSuKCB2024 answer the kiosk uses.
type checkAnswer struct {
	MaKetQua    wireString `json:"maKetQua"`
	MaThe       wireString `json:"maThe"`
	MaDKBD      wireString `json:"maDKBD"`
	TenDKBD     wireString `json:"tenDKBD"` // not documented; shown when present
	GtTheTu     wireString `json:"gtTheTu"`
	GtTheDen    wireString `json:"gtTheDen"`
	NgayDu5Nam  wireString `json:"ngayDu5Nam"`
	MaTheMoi    wireString `json:"maTheMoi"`
	GtTheTuMoi  wireString `json:"gtTheTuMoi"`
	GtTheDenMoi wireString `json:"gtTheDenMoi"`
	MaDKBDMoi   wireString `json:"maDKBDMoi"`
	TenDKBDMoi  wireString `json:"tenDKBDMoi"`
	// Visits is decoded apart: a history the kiosk cannot read must not
	// cost the citizen the answer on their card.
	Visits json.RawMessage `json:"dsLichSuKCB2018"`
}

type visitWire struct {
	MaCSKCB  wireString `json:"maCSKCB"`
	TenCSKCB wireString `json:"tenCSKCB"`
	TuNgay   wireString `json:"tuNgay"`
	TenBenh  wireString `json:"tenBenh"`
}

var codeRE = regexp.MustCompile(`^[0-9]{3}$`)

// decodeCheckAnswer parses a KQNhanLichSuKCB2024 answer. It fails only when
// the answer is not a JSON object or has no three-digit maKetQua.
func decodeCheckAnswer(b []byte) (checkAnswer, error) {
	var a checkAnswer
	if err := decodeObject(b, &a); err != nil {
		return checkAnswer{}, err
	}
	if !codeRE.MatchString(string(a.MaKetQua)) {
		return checkAnswer{}, fmt.Errorf("%w: maKetQua missing or not three digits", errMalformed)
	}
	return a, nil
}

// decodeTokenAnswer parses a token answer; a maKetQua other than 200 is the
// caller's to interpret, a 200 without tokens is malformed.
func decodeTokenAnswer(b []byte) (tokenAnswer, error) {
	var a tokenAnswer
	if err := decodeObject(b, &a); err != nil {
		return tokenAnswer{}, err
	}
	if !codeRE.MatchString(string(a.MaKetQua)) {
		return tokenAnswer{}, fmt.Errorf("%w: maKetQua missing or not three digits", errMalformed)
	}
	if a.MaKetQua == "200" && (a.APIKey == nil || a.APIKey.AccessToken == "" || a.APIKey.IDToken == "") {
		return tokenAnswer{}, fmt.Errorf("%w: token answer without access_token and id_token", errMalformed)
	}
	return a, nil
}

// decodeObject unmarshals one JSON object and nothing after it. The error
// names the problem only: json's messages quote no input, but a field's Go
// type is all they need to say.
func decodeObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("%w: not a JSON object", errMalformed)
	}
	// Unmarshal, unlike a Decoder, refuses anything after the object.
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %w", errMalformed, err)
	}
	return nil
}

// decodeVisits reads the visit history, newest first as the gateway sends
// it, keeping at most max; an unreadable history gives none.
func decodeVisits(raw json.RawMessage, max int) []Visit {
	var ws []visitWire
	if len(raw) == 0 || json.Unmarshal(raw, &ws) != nil {
		return nil
	}
	var vs []Visit
	for _, w := range ws {
		if len(vs) == max {
			break
		}
		v := Visit{Date: isoDate(string(w.TuNgay)), FacilityCode: string(w.MaCSKCB),
			FacilityName: string(w.TenCSKCB), Diagnosis: string(w.TenBenh)}
		if v.Date == "" && v.FacilityCode == "" {
			continue
		}
		vs = append(vs, v)
	}
	return vs
}

// gatewayDateLayouts are the date forms seen on the gateway: dd/MM/yyyy for
// card dates, yyyyMMddHHmm for visits, and ISO for good measure.
var gatewayDateLayouts = []string{"02/01/2006", "200601021504", "20060102", "2006-01-02", "02/01/2006 15:04:05", "02/01/2006 15:04"}

// isoDate turns a gateway date into YYYY-MM-DD, and anything else into "".
func isoDate(s string) string {
	for _, l := range gatewayDateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.Format(time.DateOnly)
		}
	}
	return ""
}

// parseExpiry reads a token's expires_in: seconds from now (a number or a
// numeric string) or a timestamp. The zero time means "not said".
func parseExpiry(s string, now time.Time) time.Time {
	if s == "" {
		return time.Time{}
	}
	if numberRE.MatchString(s) {
		secs, _ := strconv.ParseFloat(s, 64)
		if secs <= 0 || secs > 366*24*3600 {
			return time.Time{}
		}
		return now.Add(time.Duration(secs * float64(time.Second)))
	}
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02 15:04:05", "02/01/2006 15:04:05"} {
		if t, err := time.Parse(l, s); err == nil {
			if l != time.RFC3339Nano {
				t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), vietnam)
			}
			return t
		}
	}
	return time.Time{}
}

var numberRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// vietnam is UTC+7, the gateway's clock for timestamps without a zone.
var vietnam = time.FixedZone("ICT", 7*3600)

package insurance

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
)

func TestIsoDate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"31/12/2026": "2026-12-31", "202609150830": "2026-09-15", "20260915": "2026-09-15", "2026-09-15": "2026-09-15",
		"15/09/2026 08:30": "2026-09-15", "31/02/2026": "", "": "", "1983": "", "hôm nay": "",
	} {
		if got := isoDate(in); got != want {
			t.Errorf("isoDate(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"3600":                              now.Add(time.Hour),
		"1800.5":                            now.Add(1800*time.Second + 500*time.Millisecond),
		"2026-11-22T16:00:00+07:00":         time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC),
		"2026-11-22T16:00:00.4718218+07:00": time.Date(2026, 11, 22, 9, 0, 0, 471821800, time.UTC),
		"2026-11-22T16:00:00.4718218":       time.Date(2026, 11, 22, 9, 0, 0, 471821800, time.UTC), // gateway time, UTC+7
		"":                                  {},
		"0":                                 {},
		"soon":                              {},
		"99999999999":                       {},
	} {
		if got := parseExpiry(in, now); !got.Equal(want) {
			t.Errorf("parseExpiry(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestBenefitLevelOf(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]int{"DN4010183012345": 4, "HT3484848000789": 3, "TE1797930004321": 1, "CA5010000000001": 5,
		"HT2484848000789": 2, "DN6010183012345": 0, "001083012345": 0, "DN401": 0} {
		b, ok := BenefitLevelOf(code)
		if ok != (want != 0) || b.Level != want {
			t.Errorf("%s: %+v %v, want level %d", code, b, ok, want)
		}
	}
}

var isoRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)

// FuzzDecodeCheckAnswer: whatever the gateway sends, decoding does not panic,
// and what it accepts becomes a Result with a kind, a message in both
// languages, ISO dates and a bounded history.
func FuzzDecodeCheckAnswer(f *testing.F) {
	for _, rec := range refbackend.DemoInsuranceData().Records {
		f.Add([]byte(rec))
	}
	for _, s := range []string{`{"maKetQua":"000","maDKBD":1,"gtTheTu":null}`, `{"maKetQua":true}`, `[]`, `{"maKetQua":"010","dsLichSuKCB2018":[1,{"tuNgay":2}]}`, `{"maKetQua":"003","maTheMoi":"HT9"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeCheckAnswer(b)
		if err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		r := resultFor(a)
		if r.Kind == "" || r.Message.VI == "" || r.Message.EN == "" || r.Code != string(a.MaKetQua) {
			t.Fatalf("result %+v", r)
		}
		for _, d := range []string{r.ValidFrom, r.ValidTo, r.FiveYearDate, r.NewValidFrom, r.NewValidTo} {
			if d != "" && !isoRE.MatchString(d) {
				t.Fatalf("date %q", d)
			}
		}
		if len(r.Visits) > MaxVisits {
			t.Fatalf("%d visits", len(r.Visits))
		}
		if r.BenefitLevel != nil && (r.BenefitLevel.Level < 1 || r.BenefitLevel.Level > 5) {
			t.Fatalf("benefit %+v", r.BenefitLevel)
		}
	})
}

package insurance

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
)

// serveControl serves routes on a unix socket and returns a control client.
func serveControl(t *testing.T, routes func(*http.ServeMux)) *control.Client {
	t.Helper()
	sock := filepath.Join(kiosktest.ShortTempDir(t), "c.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	routes(mux)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return control.NewClient(sock)
}

func TestControlRoute(t *testing.T) {
	t.Parallel()
	g := startGateway(t, refbackend.Options{})
	c := g.client(t, func(cfg *Config) {
		cfg.StaffName, cfg.StaffID = refbackend.DemoInsuranceStaffName, refbackend.DemoInsuranceStaffID
	})
	cl := serveControl(t, Routes(c))
	ctx := context.Background()

	a, err := CheckVia(ctx, cl, CheckRequest{CardNumber: "048048000789", Name: "Lê Văn Thành", DOB: "20/11/1948"})
	if err != nil {
		t.Fatal(err)
	}
	want := CheckAnswer{ResultCode: "004", Message: a.Message, CardNumber: "HT3484848000789", ValidFrom: "2026-01-01", ValidTo: "2026-12-31",
		RegisteredFacility: "48999 Trung tâm Y tế Mẫu Hải Châu", FiveYearDate: "2001-01-01", NewCardNumber: "HT2484848000789",
		Kind: KindNewCard, MessageEN: a.MessageEN}
	if a != want || !strings.Contains(a.Message, "thẻ mới") || a.MessageEN == "" {
		t.Errorf("answer %+v\nwant   %+v", a, want)
	}

	// The keys on the wire are exactly the issue's, plus kind, message_en and retryable.
	var raw map[string]any
	if err := cl.Do(ctx, http.MethodPost, "/v1/insurance/check", CheckRequest{CardNumber: "001099012345", Name: "Người Thử", DOB: "1999"}, &raw); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if got := strings.Join(keys, " "); got != "card_number five_year_date kind message message_en new_card_number registered_facility result_code retryable valid_from valid_to" {
		t.Errorf("keys %s", got)
	}
	if raw["result_code"] != "050" || raw["retryable"] != false {
		t.Errorf("050 answer %v", raw)
	}

	// A staff identity in the request is used instead of the configured one.
	a, err = CheckVia(ctx, cl, CheckRequest{CardNumber: "001083012345", Name: "Nguyễn Văn An", DOB: "15/03/1983", StaffName: "Trần Văn Khác", StaffID: "001190099999"})
	if err != nil || a.ResultCode != "054" || a.Kind != KindStaffProblem || !a.Retryable {
		t.Errorf("request staff: %+v %v", a, err)
	}

	for _, bad := range []any{
		CheckRequest{CardNumber: "12", Name: "An", DOB: "1983"},
		map[string]string{"card_number": "001083012345", "name": "An", "dob": "1983", "extra": "x"},
	} {
		err := cl.Do(ctx, http.MethodPost, "/v1/insurance/check", bad, nil)
		if err == nil || strings.Contains(err.Error(), "001083012345") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestControlRouteNotConfigured(t *testing.T) {
	t.Parallel()
	cl := serveControl(t, Routes(nil))
	_, err := CheckVia(context.Background(), cl, CheckRequest{CardNumber: "001083012345", Name: "An", DOB: "1983"})
	if err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("%v", err)
	}
}

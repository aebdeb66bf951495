package lgsp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// platform is a fake LGSP: sessions, a dossier store that refuses an insert of a
// known MaHoSo or an update of an unknown one, and a record of progress.
type platform struct {
	mu       sync.Mutex
	sessions map[string]bool
	logins   int
	dossiers map[string]Dossier
	progress []Progress
	calls    []string
}

func newPlatform(t *testing.T) (*platform, *httptest.Server) {
	p := &platform{sessions: map[string]bool{}, dossiers: map[string]Dossier{}}
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v map[string]any) { json.NewEncoder(w).Encode(v) }
	mux.HandleFunc("POST /auth", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Username, Password string }
		json.NewDecoder(r.Body).Decode(&req)
		p.mu.Lock()
		defer p.mu.Unlock()
		if req.Username != "kiosk" || req.Password != "mật khẩu" {
			reply(w, map[string]any{"error_code": "99"})
			return
		}
		p.logins++
		s := "S" + strings.Repeat("x", p.logins)
		p.sessions[s] = true
		reply(w, map[string]any{"error_code": "00", "session": s})
	})
	mux.HandleFunc("POST /service", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Session, MaDonVi, Service, MaHoSo string
			IsUpdating                        bool
			Data                              json.RawMessage
		}
		json.NewDecoder(r.Body).Decode(&req)
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.sessions[req.Session] || req.MaDonVi != "000.00.01.H01" {
			reply(w, map[string]any{"error_code": "01"})
			return
		}
		p.calls = append(p.calls, req.Service)
		switch req.Service {
		case "TraCuuHoSo":
			var out []Dossier
			if d, ok := p.dossiers[req.MaHoSo]; ok {
				out = append(out, d)
			}
			reply(w, map[string]any{"error_code": "00", "data": out})
		case "DongBoHoSoMC":
			var ds []Dossier
			json.Unmarshal(req.Data, &ds)
			for _, d := range ds {
				if _, ok := p.dossiers[d.MaHoSo]; ok != req.IsUpdating {
					reply(w, map[string]any{"error_code": "02"})
					return
				}
				p.dossiers[d.MaHoSo] = d
			}
			reply(w, map[string]any{"error_code": "00"})
		case "CapNhatTienDoHoSoMC":
			var ps []Progress
			json.Unmarshal(req.Data, &ps)
			p.progress = append(p.progress, ps...)
			reply(w, map[string]any{"error_code": "00"})
		default:
			reply(w, map[string]any{"error_code": "03"})
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return p, srv
}

func TestSubmitUpsertAndSessionRenewal(t *testing.T) {
	p, srv := newPlatform(t)
	c, err := New(Config{AuthURL: srv.URL + "/auth", ServiceURL: srv.URL + "/service", Username: "kiosk", Password: "mật khẩu", MaDonVi: "000.00.01.H01"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d := Dossier{MaHoSo: "000.00.01.H01-260101-0001", MaTTHC: "1.001193", ChuHoSo: "Nguyễn Văn An", LoaiDoiTuong: 1,
		NgayTiepNhan: FormatTime(time.Date(2026, 1, 1, 1, 30, 0, 0, time.UTC)), TrangThaiHoSo: 1}
	if d.NgayTiepNhan != "20260101083000" {
		t.Fatalf("FormatTime: %s", d.NgayTiepNhan)
	}
	if updated, err := c.SubmitDossier(ctx, d); err != nil || updated {
		t.Fatalf("first submit: %v, %v", updated, err)
	}
	d.TrangThaiHoSo = 2
	if updated, err := c.SubmitDossier(ctx, d); err != nil || !updated {
		t.Fatalf("second submit: %v, %v", updated, err)
	}
	got, found, err := c.LookupDossier(ctx, d.MaHoSo)
	if err != nil || !found || got.TrangThaiHoSo != 2 || got.ChuHoSo != d.ChuHoSo {
		t.Fatalf("lookup: %+v %v %v", got, found, err)
	}
	if _, found, err := c.LookupDossier(ctx, "000.00.01.H01-260101-9999"); err != nil || found {
		t.Fatalf("lookup of an unknown dossier: %v %v", found, err)
	}

	// The session expires: the next call logs in again and succeeds.
	p.mu.Lock()
	clear(p.sessions)
	p.mu.Unlock()
	if err := c.UpdateProgress(ctx, Progress{MaHoSo: d.MaHoSo, TrangThaiHoSo: 4, NgayXuLy: FormatTime(time.Now())}); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.logins != 2 || len(p.dossiers) != 1 || len(p.progress) != 1 || p.progress[0].TrangThaiHoSo != 4 {
		t.Fatalf("platform: %d logins, %d dossiers, progress %+v", p.logins, len(p.dossiers), p.progress)
	}
	want := "TraCuuHoSo DongBoHoSoMC TraCuuHoSo DongBoHoSoMC TraCuuHoSo TraCuuHoSo CapNhatTienDoHoSoMC"
	if got := strings.Join(p.calls, " "); got != want {
		t.Fatalf("calls %s, want %s", got, want)
	}
}

func TestErrors(t *testing.T) {
	_, srv := newPlatform(t)
	ctx := context.Background()
	c, _ := New(Config{AuthURL: srv.URL + "/auth", ServiceURL: srv.URL + "/service", Username: "kiosk", Password: "wrong", MaDonVi: "000.00.01.H01"})
	var le *Error
	if _, _, err := c.LookupDossier(ctx, "X"); !errors.As(err, &le) || le.Service != "login" || le.Code != "99" {
		t.Fatalf("bad password: %v", err)
	}
	if strings.Contains(le.Error(), "wrong") {
		t.Fatal("error text holds the password")
	}
	c, _ = New(Config{AuthURL: srv.URL + "/auth", ServiceURL: srv.URL + "/service", Username: "kiosk", Password: "mật khẩu", MaDonVi: "000.00.01.H01"})
	if err := c.UpdateProgress(ctx, Progress{MaHoSo: "X", TrangThaiHoSo: 11}); err == nil {
		t.Fatal("accepted TrangThaiHoSo 11")
	}
	if _, err := c.Call(ctx, "KhongCo", nil); !errors.As(err, &le) || le.Code != "03" {
		t.Fatalf("unknown service: %v", err)
	}
	c, _ = New(Config{AuthURL: srv.URL + "/nowhere", ServiceURL: srv.URL + "/service", Username: "kiosk", MaDonVi: "x"})
	if err := c.Login(ctx); !errors.Is(err, ErrTransport) {
		t.Fatalf("HTTP 404 on login: %v", err)
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("accepted an empty config")
	}
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnkiosk/kiosk/kiosk/audit"
	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
	"github.com/vnkiosk/kiosk/kiosk/insurance"
	"github.com/vnkiosk/kiosk/kiosk/keystore"
	"github.com/vnkiosk/kiosk/kiosk/queue"
	"github.com/vnkiosk/kiosk/kiosk/staff"
	"github.com/vnkiosk/kiosk/provisioning/enrol"
)

// kioskHospital is what a hospital kiosk adds: the insurance gateway client,
// the ticket queue, the staff directory and the audit log. On a ward kiosk
// only the audit log and the (unconfigured) insurance route exist.
type kioskHospital struct {
	Insurance *insurance.Client // nil without insurance.url
	Queue     *queue.Queue      // nil on a ward kiosk
	Staff     *staff.Directory  // nil without staff
	Audit     *audit.Log
}

func newHospital(cfg *config.Config, log *slog.Logger) (*kioskHospital, error) {
	h := &kioskHospital{}
	key, err := keystore.Key(cfg.StateDir, audit.KeyName)
	if err != nil {
		return nil, err
	}
	if h.Audit, err = audit.Open(cfg.StateDir, key); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if ic := cfg.Insurance; ic.Enabled() {
		password, err := ic.Password()
		if err != nil {
			h.close()
			return nil, fmt.Errorf("insurance gateway: %w", err)
		}
		certFile, keyFile := ic.CertFile, ic.KeyFile
		if certFile == "" {
			certFile, keyFile = cfg.Backend.CertFile, cfg.Backend.KeyFile
		}
		h.Insurance, err = insurance.New(insurance.Config{BaseURL: ic.URL, Username: ic.Username, Password: password,
			CAFile: ic.CAFile, CertFile: certFile, KeyFile: keyFile, Timeout: ic.RequestTimeout(),
			StaffName: ic.StaffName, StaffID: ic.StaffID, Log: log.With("subsystem", "insurance")})
		if err != nil {
			h.close()
			return nil, err
		}
	}
	if cfg.Site.Kind != config.SiteHospital {
		return h, nil
	}
	if h.Queue, err = queue.Open(cfg.StateDir); err != nil {
		h.close()
		return nil, fmt.Errorf("ticket queue: %w", err)
	}
	var members []staff.Member
	for _, s := range cfg.Hospital.Staff {
		members = append(members, staff.Member{IDNumber: s.IDNumber, Name: s.Name, PINHash: s.PINHash, Role: staff.Role(s.Role)})
	}
	if h.Staff, err = staff.NewDirectory(members); err != nil {
		h.close()
		return nil, fmt.Errorf("hospital.staff: %w", err)
	}
	return h, nil
}

// routes adds POST /v1/insurance/check and GET /v1/audit to the control API.
// A check asked through the control socket is audited like one from the
// touchscreen.
func (h *kioskHospital) routes(mux *http.ServeMux) {
	var c insurance.Checker
	if h.Insurance != nil {
		c = auditedChecker{h.Insurance, h.Audit}
	}
	insurance.Routes(c)(mux)
	audit.Routes(h.Audit)(mux)
}

// auditedChecker records every check in the audit log.
type auditedChecker struct {
	c   *insurance.Client
	log *audit.Log
}

func (a auditedChecker) Check(ctx context.Context, q insurance.Query) (insurance.Result, error) {
	r, err := a.c.Check(ctx, q)
	result := r.Code
	switch {
	case err != nil:
		return r, err // not sent: nothing to audit
	case result == "":
		result = string(r.Kind)
	}
	staffName := q.StaffName
	if staffName == "" {
		staffName = "kioskctl"
	}
	if err := a.log.Record(ctx, audit.Entry{At: time.Now(), StaffName: staffName, StaffIDNumber: q.StaffID,
		Action: audit.ActionInsuranceCheck, PatientIDNumber: q.CardNumber, Result: result}); err != nil {
		return r, fmt.Errorf("audit log: %w", err)
	}
	return r, nil
}

func (h *kioskHospital) close() {
	if h.Queue != nil {
		h.Queue.Close()
	}
	if h.Audit != nil {
		h.Audit.Close()
	}
	if h.Insurance != nil {
		h.Insurance.Close()
	}
}

// newRenewer renews the kiosk's certificate over EST when backend.est_url is
// configured.
func newRenewer(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (daemon.Subsystem, error) {
	if cfg.Backend.ESTURL == "" {
		return nil, nil
	}
	return enrol.NewRenewer(enrol.RenewerOptions{StateDir: cfg.StateDir, Server: cfg.Backend.ESTURL, Registerer: reg,
		Log: log.With("subsystem", "identity")})
}

// The demo's PINs, printed when the demo starts, and their argon2id hashes,
// made once with `kioskctl staff hash-pin`: hashing at start would cost the
// demo 80 ms and 64 MiB of resident memory before it is ready.
const (
	demoStaffPIN          = "1357" // the nurse Nguyễn Thị Hoa (hospital demo)
	demoStaffPINHash      = "$argon2id$v=19$m=65536,t=2,p=2$QiJLGAnK6MUm2ABF0bbIew$CfbnMgz+2zZbAb82NIvWawo36dzECG9AUQtPLYaRjjQ"
	demoTechnicianPIN     = "2468" // technician mode from the idle screen
	demoTechnicianPINHash = "$argon2id$v=19$m=65536,t=2,p=2$UzY7RHTnunC6hRDs+jAnxw$DgCJSzBR3pAlcvPa+TCed0xP+5Ks7xrRwY1i5EiFUSY"
)

// setDemoTechnicianPIN opens technician mode to the demo's PIN.
func setDemoTechnicianPIN(cfg *config.Config) error {
	cfg.Technician.PINHash = demoTechnicianPINHash
	return nil
}

// makeDemoHospital turns the demo configuration into a hospital's: three
// departments, the sample nurse Nguyễn Thị Hoa as staff, and the insurance
// gateway of the demo's reference backend.
func makeDemoHospital(cfg *config.Config) error {
	cfg.Site = config.Site{Kind: config.SiteHospital, Code: "01001", Name: "Bệnh viện Đa khoa (trình diễn)"}
	cfg.Hospital.Departments = []config.Department{
		{Code: "KKB", NameVI: "Khoa Khám bệnh", NameEN: "Outpatient clinic", Prefix: "K"},
		{Code: "NHI", NameVI: "Khoa Nhi", NameEN: "Paediatrics", Prefix: "N"},
		{Code: "RHM", NameVI: "Răng Hàm Mặt", NameEN: "Dentistry", Prefix: "R"},
	}
	cfg.Hospital.Staff = []config.StaffMember{{IDNumber: refbackend.DemoInsuranceStaffID, Name: refbackend.DemoInsuranceStaffName, PINHash: demoStaffPINHash, Role: string(staff.Nurse)}}
	return nil
}

// useDemoGateway points the insurance check at the demo's backend, which
// serves the reference gateway with its demo data and credentials.
func useDemoGateway(cfg *config.Config) error {
	pw := filepath.Join(cfg.StateDir, "insurance-password")
	if err := os.WriteFile(pw, []byte(refbackend.DemoInsurancePassword+"\n"), 0o600); err != nil {
		return err
	}
	cfg.Insurance = config.Insurance{URL: cfg.Backend.URL, Username: refbackend.DemoInsuranceUser, PasswordFile: pw,
		CAFile: cfg.Backend.CAFile, StaffName: refbackend.DemoInsuranceStaffName, StaffID: refbackend.DemoInsuranceStaffID}
	return nil
}

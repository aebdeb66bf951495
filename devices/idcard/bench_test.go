package idcard_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/passiveauth"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc/pcsctest"
	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
)

var simLine = regexp.MustCompile(`CAN (\d{6}); give the reader the CSCA trust dir (\S+);`)

// startSimCard runs `kioskctl sim card` in its own process, so the card's CPU
// (and its TCP_NODELAY/TCP_QUICKACK socket) is not charged to the reader, and
// returns the CAN and the trust directory it printed.
func startSimCard(b *testing.B, s pcsctest.Slot, args ...string) (string, string) {
	b.Helper()
	bin := kiosktest.BuildBinary(b, "github.com/vnkiosk/kiosk/cmd/kioskctl")
	pcsctest.WaitEmpty(b, s.Reader)
	cmd := exec.Command(bin, append([]string{"sim", "card", "--vpcd", s.Addr, "--pki", filepath.Join(b.TempDir(), "pki")}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("sim card: %v", err)
	}
	m := simLine.FindStringSubmatch(line)
	if m == nil {
		b.Fatalf("sim card said %q", line)
	}
	return m[1], m[2]
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pcscdCPU is pcscd's user+system time, to show what the PC/SC daemon adds.
func pcscdCPU() time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, d := range dirs {
		if c, _ := os.ReadFile(d); strings.TrimSpace(string(c)) == "pcscd" {
			st, err := os.ReadFile(filepath.Join(filepath.Dir(d), "stat"))
			if err != nil {
				return 0
			}
			f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+2:]))
			ut, _ := strconv.ParseInt(f[11], 10, 64)
			stt, _ := strconv.ParseInt(f[12], 10, 64)
			return time.Duration(ut+stt) * (time.Second / 100) // USER_HZ
		}
	}
	return 0
}

// BenchmarkFullRead is a complete read of the virtual CCCD through pcscd and vpcd:
// PACE-CAN on brainpoolP256r1, chip authentication, active authentication (RSA-2048),
// DG1, the 18 KB DG2, DG13, DG14, DG15 and the SOD with passive authentication
// (RSA PKI). The card runs in a separate `kioskctl sim card` process with
// TCP_NODELAY and TCP_QUICKACK. Metrics per read: APDUs, bytes, reader-process CPU
// (host-cpu-ms), pcscd CPU, and the theoretical time of the same APDU bytes on a
// 424 kbit/s contactless link (payload only, no ISO 14443 framing). Targets (issue
// 3): ≤ 120 APDUs short, ≤ 30 extended, ≤ 30 ms host CPU, ≤ 400 ms wall time.
func BenchmarkFullRead(b *testing.B) {
	for _, mode := range []struct {
		name string
		args []string
	}{{"short", nil}, {"extended", []string{"--extended"}}} {
		b.Run(mode.name, func(b *testing.B) {
			s := pcsctest.AcquireAny(b)
			can, trustDir := startSimCard(b, s, mode.args...)
			trust, err := passiveauth.LoadTrustStore(trustDir)
			if err != nil {
				b.Fatal(err)
			}
			key, _ := idcard.KeyFromCAN(can)
			ctx := context.Background()
			// One read outside the timing warms pcscd and the card.
			if _, _, err := idcard.ReadFromReader(ctx, s.Reader, key, idcard.Options{Trust: trust}, 5*time.Second); err != nil {
				b.Fatal(err)
			}
			var apdus, bytes int64
			cpu0, pcscd0 := cpuTime(), pcscdCPU()
			for b.Loop() {
				doc, _, err := idcard.ReadFromReader(ctx, s.Reader, key, idcard.Options{Trust: trust}, 0)
				if err != nil {
					b.Fatal(err)
				}
				v := doc.Verification
				if v.Passive.State != passiveauth.StatusValid || v.ChipAuth.State != idcard.AuthOK || v.ActiveAuth.State != idcard.AuthOK || doc.Photo == nil {
					b.Fatalf("incomplete read: %+v", v)
				}
				apdus, bytes = doc.Stats.APDUs, doc.Stats.BytesIn+doc.Stats.BytesOut
			}
			n := float64(b.N)
			b.ReportMetric(float64(apdus), "APDUs/read")
			b.ReportMetric(float64(bytes), "APDU-bytes/read")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/n, "host-cpu-ms/read")
			b.ReportMetric(float64((pcscdCPU()-pcscd0).Microseconds())/1000/n, "pcscd-cpu-ms/read")
			b.ReportMetric(float64(bytes)*8/424000*1000, "424kbps-link-ms/read")
		})
	}
}

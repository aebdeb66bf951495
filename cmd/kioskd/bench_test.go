package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
)

// BenchmarkDemoStartToReady starts `kioskd --demo` as systemd would (with a
// NOTIFY_SOCKET) and measures the time from exec to READY=1, then the resident
// memory after two idle seconds. Targets (issue 2): ready ≤ 300 ms, idle RSS ≤ 30 MB.
func BenchmarkDemoStartToReady(b *testing.B) {
	bin := kiosktest.BuildBinary(b, "github.com/vnkiosk/kiosk/cmd/kioskd")
	dir := kiosktest.ShortTempDir(b)
	var readyTotal time.Duration
	var rssMax float64
	for i := 0; b.Loop(); i++ {
		notify := filepath.Join(dir, "n"+strconv.Itoa(i))
		nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, "--demo", "--ui-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify)
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 4096)
		_ = nc.SetReadDeadline(time.Now().Add(15 * time.Second))
		for {
			n, err := nc.Read(buf)
			if err != nil {
				cmd.Process.Kill()
				b.Fatalf("no READY=1: %v", err)
			}
			if strings.HasPrefix(string(buf[:n]), "READY=1") {
				break
			}
		}
		readyTotal += time.Since(t0)
		b.StopTimer()
		time.Sleep(2 * time.Second)
		if rss := rssMB(cmd.Process.Pid); rss > rssMax {
			rssMax = rss
		}
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		nc.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(readyTotal.Milliseconds())/float64(b.N), "ms-to-ready")
	b.ReportMetric(rssMax, "idle-RSS-MB")
}

func rssMB(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

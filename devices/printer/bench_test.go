package printer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/printer/escpos"
	"github.com/vnkiosk/kiosk/devices/printer/printersim"
)

// BenchmarkFirstByte measures the time from Submit (render the 80 mm dossier
// receipt, seal it with AES-GCM, write and fsync the spool file, wake the
// worker, read the status with DLE EOT 1-4) to the job's first byte (ESC @)
// arriving at the printer simulator over loopback TCP. Each iteration then
// waits, untimed, until the ticket has printed. Target: at most 50 ms. The
// spool is in the test's temporary directory, so the fsync cost is that of
// this machine's /tmp.
func BenchmarkFirstByte(b *testing.B) {
	var (
		mu    sync.Mutex
		prev  byte
		first = make(chan time.Time, 1)
	)
	_, uri := startSim(b, printersim.Options{OnReceive: func(p []byte) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range p {
			if prev == escpos.ESC && c == '@' {
				select {
				case first <- time.Now():
				default:
				}
			}
			prev = c
		}
	}})
	p := newPrinter(b, Options{URI: uri, PollInterval: time.Second})
	ev, cancel := p.Events()
	defer cancel()
	page := ticket(b, "Nguyễn Thị Phượng", "000.00.12.H29-260115-0007")
	ctx := context.Background()
	// One ticket first, so the connection is up and the fonts are loaded.
	if _, err := p.Submit(ctx, page); err != nil {
		b.Fatal(err)
	}
	<-first
	waitEvent(b, ev, EventJobPrinted, 10*time.Second)

	var total time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := p.Submit(ctx, page); err != nil {
			b.Fatal(err)
		}
		t1 := <-first
		b.StopTimer()
		total += t1.Sub(t0)
		waitEvent(b, ev, EventJobPrinted, 10*time.Second)
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/first-byte")
}

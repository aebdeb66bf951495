package outbox_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/outbox"
	"github.com/vnkiosk/kiosk/kiosk/outbox/internal/outboxtest"
)

// scannedFiling is a filing as a ward kiosk produces it: a small JSON form and
// three scanned pages of 200 KB of random (incompressible, like JPEG) bytes.
func scannedFiling() outbox.Filing {
	f := outbox.Filing{MaHoSo: "000.00.01.H01-260101-0001", ProcedureCode: "1.001193", Body: []byte(`{"ChuHoSo":"x","TrichYeuHoSo":"Đăng ký khai sinh"}`)}
	for i := range 3 {
		data := make([]byte, 200_000)
		rand.Read(data)
		f.Attachments = append(f.Attachments, outbox.Attachment{Name: fmt.Sprintf("trang-%d.jpg", i+1), ContentType: "image/jpeg", Data: data})
	}
	return f
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// BenchmarkEnqueue measures what the citizen waits for between "submit" and
// "submitted": Enqueue of a filing with three 200 KB scanned pages, sealed and
// committed with synchronous=FULL (an fsync of the WAL per filing), in the state
// directory's filesystem (t.TempDir; point TMPDIR at the kiosk's disk to measure
// it). "sender-parked": the sender holds one delivery, as when the backend is
// slow or down, so enqueues meet no competition. "sender-draining": the sender
// forwards and purges (checkpoints included) concurrently. Target: p99 ≤ 20 ms.
func BenchmarkEnqueue(b *testing.B) {
	for _, mode := range []string{"sender-parked", "sender-draining"} {
		b.Run(mode, func(b *testing.B) {
			release := make(chan struct{})
			var fwd outbox.Forwarder = forwarderFunc(func(ctx context.Context, d outbox.Delivery) error { return nil })
			if mode == "sender-parked" {
				fwd = forwarderFunc(func(ctx context.Context, d outbox.Delivery) error {
					select {
					case <-release:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				})
			}
			o, err := outbox.New(outbox.Options{StateDir: b.TempDir(), Key: testKey, Forwarder: fwd})
			if err != nil {
				b.Fatal(err)
			}
			if err := o.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer func() {
				close(release)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				o.Stop(ctx)
			}()
			f := scannedFiling()
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.SetBytes(600_000)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if _, err := o.Enqueue(ctx, f); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
}

// BenchmarkForward measures the sender's throughput: b.N queued filings of three
// 200 KB pages each forwarded over loopback HTTP to the recording test backend
// (JSON with base64 pages, as outboxtest.Forwarder sends them) and each purged
// (delete, incremental vacuum, TRUNCATE checkpoint) once acknowledged. Time runs
// from the sender's release to an empty queue. Target: ≥ 50 filings/s.
func BenchmarkForward(b *testing.B) {
	srv := outboxtest.NewServer(outboxtest.Faults{}, 1)
	defer srv.Close()
	gate := make(chan struct{})
	inner := &outboxtest.Forwarder{URL: srv.URL}
	fwd := forwarderFunc(func(ctx context.Context, d outbox.Delivery) error {
		<-gate
		return inner.Forward(ctx, d)
	})
	o, err := outbox.New(outbox.Options{StateDir: b.TempDir(), Key: testKey, Forwarder: fwd})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := o.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		o.Stop(sctx)
	}()
	f := scannedFiling()
	for range b.N {
		if _, err := o.Enqueue(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(600_000)
	b.ResetTimer()
	t0 := time.Now()
	close(gate)
	for {
		s, err := o.Stats(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if s.Pending == 0 && !s.InFlight {
			break
		}
		time.Sleep(time.Millisecond)
	}
	el := time.Since(t0)
	b.StopTimer()
	if got := len(srv.Records()); got != b.N {
		b.Fatalf("backend stored %d filings, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "filings/s")
}

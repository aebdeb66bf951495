package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard/pcsc"
	"github.com/vnkiosk/kiosk/ui/uitest"
)

// BenchmarkUIFirstPaint launches Debian's chromium on the kiosk's UI, as
// kiosk-browser@.service does, and measures the time from the browser's exec
// to the idle screen's first contentful paint (target ≤ 1 s, issue 5).
func BenchmarkUIFirstPaint(b *testing.B) {
	k := startDemoKiosk(b)
	var all []time.Duration
	for b.Loop() {
		br := uitest.Start(b, uitest.Options{Width: 1080, Height: 1920})
		if err := br.Open(k.kioskURL); err != nil {
			b.Fatal(err)
		}
		if err := br.WaitScreen("idle"); err != nil {
			b.Fatal(err)
		}
		d, err := br.FirstPaintSinceLaunch()
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, d)
		br.Close()
	}
	slices.Sort(all)
	b.ReportMetric(ms(all[len(all)/2]), "ms-median-first-paint")
	b.ReportMetric(ms(all[(len(all)*95+99)/100-1]), "ms-p95-first-paint")
	b.ReportMetric(ms(all[len(all)-1]), "ms-max-first-paint")
}

// BenchmarkUICardToScreen puts a virtual card on the reader (vpcd, pcscd) and
// measures until the browser has the card screen in its DOM: the page records
// the moment with a MutationObserver, on the same clock. Card insertion to
// screen, p95 (target ≤ 50 ms, issue 5). pcscd polls a reader without
// interrupt support — vpcd — every 400 ms, so the benchmark also watches the
// reader itself, like kioskd does, and reports the kiosk's own part: pcscd's
// card event to the screen updated.
func BenchmarkUICardToScreen(b *testing.B) {
	k := startDemoKiosk(b)
	mon := pcsc.NewMonitor(0)
	events, stop := mon.Subscribe()
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go mon.Run(ctx)
	seen := make(chan time.Time, 16)
	go func() {
		for ev := range events {
			if ev.Kind == pcsc.CardInserted && ev.Reader == k.reader {
				seen <- time.Now()
			}
		}
	}()
	br := uitest.Start(b, uitest.Options{Width: 1080, Height: 1920})
	if err := br.Open(k.kioskURL); err != nil {
		b.Fatal(err)
	}
	if err := br.WaitScreen("idle"); err != nil {
		b.Fatal(err)
	}
	const watch = `window.__cardAt = 0; new MutationObserver(() => {
		if (!window.__cardAt && document.querySelector('[data-screen="card_key"]')) window.__cardAt = Date.now();
	}).observe(document.body, {subtree: true, childList: true, attributes: true}); true`
	var all, kiosk []time.Duration
	for b.Loop() {
		for len(seen) > 0 {
			<-seen
		}
		if err := br.Eval(watch, nil); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		k.demo(b, "insert_card", "nguyen-van-an")
		if err := br.WaitScreen("card_key"); err != nil {
			b.Fatal(err)
		}
		var at float64
		if err := br.Eval(`window.__cardAt`, &at); err != nil {
			b.Fatal(err)
		}
		shown := time.UnixMilli(int64(at))
		all = append(all, shown.Sub(t0))
		select {
		case ev := <-seen:
			kiosk = append(kiosk, shown.Sub(ev))
		case <-time.After(5 * time.Second):
			b.Fatal("this process's PC/SC monitor never saw the card")
		}
		b.StopTimer()
		k.demo(b, "remove_card", "")
		if err := br.WaitScreen("goodbye"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	slices.Sort(all)
	slices.Sort(kiosk)
	p95 := func(d []time.Duration) float64 { return ms(d[(len(d)*95+99)/100-1]) }
	b.ReportMetric(p95(all), "ms-p95-insert-to-screen")
	b.ReportMetric(p95(kiosk), "ms-p95-event-to-screen")
	b.ReportMetric(ms(kiosk[len(kiosk)/2]), "ms-median-event-to-screen")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

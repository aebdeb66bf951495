package uitest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// paintJS reads first-contentful-paint (ms after the navigation's time
// origin) and the time origin itself (ms since the Unix epoch); fcp is null
// until the page has painted text or an image.
const paintJS = `(() => {
  const e = performance.getEntriesByName('first-contentful-paint')[0];
  return {fcp: e ? e.startTime : null, origin: performance.timeOrigin};
})()`

type paintTiming struct {
	FCP    *float64 `json:"fcp"`
	Origin float64  `json:"origin"`
}

// paint waits up to StepTimeout for the current page's first contentful paint.
func (b *Browser) paint() (paintTiming, error) {
	var pt paintTiming
	err := b.poll(func(ctx context.Context) (bool, error) {
		var now paintTiming
		if err := b.eval(ctx, paintJS, &now); err != nil {
			return false, err
		}
		pt = now
		return pt.FCP != nil, nil
	})
	if err != nil {
		return pt, fmt.Errorf("uitest: first contentful paint: %w", err)
	}
	return pt, nil
}

// FirstPaint returns the current page's first-contentful-paint relative to
// its navigation start (PerformancePaintTiming), waiting for it if needed.
func (b *Browser) FirstPaint() (time.Duration, error) {
	pt, err := b.paint()
	if err != nil {
		return 0, err
	}
	return msDuration(*pt.FCP), nil
}

// FirstPaintSinceLaunch returns the time from exec'ing chromium to the
// current page's first contentful paint (performance.timeOrigin + fcp -
// LaunchedAt): the kiosk's "first paint within 1 s of browser start" budget.
// It includes the harness's own DevTools handshake before Open, so it is an
// upper bound of what the kiosk, which passes the URL on the command line,
// sees.
func (b *Browser) FirstPaintSinceLaunch() (time.Duration, error) {
	pt, err := b.paint()
	if err != nil {
		return 0, err
	}
	if b.launched.IsZero() {
		return 0, errors.New("uitest: first paint since launch: launch time unknown")
	}
	paintedAt := time.UnixMicro(int64(math.Round((pt.Origin + *pt.FCP) * 1000)))
	return paintedAt.Sub(b.launched), nil
}

func msDuration(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}

package uitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chromedp/chromedp"
)

// poll calls check every pollInterval until it reports done, returns an
// error, or the step times out. A JavaScript exception (a bad selector) ends
// polling at once; other errors, such as the execution context being replaced
// during a navigation, are retried.
func (b *Browser) poll(check func(ctx context.Context) (bool, error)) error {
	ctx, cancel := b.ctx(true)
	defer cancel()
	var last error
	for {
		done, err := check(ctx)
		if err == nil && done {
			return nil
		}
		var exc *chromedp.ExceptionError
		if errors.As(err, &exc) {
			return err
		}
		if err != nil && ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
			}
			return ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	q, _ := json.Marshal(s) // a string always marshals
	return string(q)
}

// screenState is what the page shows, for WaitScreen's answer and its error.
type screenState struct {
	Found     bool     `json:"found"`
	KioskUI   *string  `json:"kioskUI"` // window.KioskUI.screen; nil when unset
	Connected *bool    `json:"connected"`
	InDOM     []string `json:"inDOM"` // every data-screen value present
}

const screenStateJS = `((name) => {
  const ui = window.KioskUI;
  return {
    found: document.querySelector('[data-screen="' + CSS.escape(name) + '"]') !== null,
    kioskUI: ui && typeof ui.screen === 'string' ? ui.screen : null,
    connected: ui && typeof ui.connected === 'boolean' ? ui.connected : null,
    inDOM: Array.from(document.querySelectorAll('[data-screen]'), e => e.getAttribute('data-screen')),
  };
})(%s)`

// WaitScreen waits until an element with data-screen=name exists. On timeout
// the error names the screen that is shown instead, from window.KioskUI and
// from the DOM.
func (b *Browser) WaitScreen(name string) error {
	js := fmt.Sprintf(screenStateJS, jsString(name))
	var st screenState
	err := b.poll(func(ctx context.Context) (bool, error) {
		var now screenState
		if err := b.eval(ctx, js, &now); err != nil {
			return false, err
		}
		st = now
		return st.Found, nil
	})
	if err == nil {
		return nil
	}
	shown := "unset"
	if st.KioskUI != nil {
		shown = jsString(*st.KioskUI)
	}
	conn := "unset"
	if st.Connected != nil {
		conn = fmt.Sprint(*st.Connected)
	}
	return fmt.Errorf("uitest: screen %q not shown within %v: window.KioskUI.screen is %s (connected %s), data-screen in DOM %q: %w",
		name, b.opts.StepTimeout, shown, conn, st.InDOM, err)
}

// tapTarget is where Tap will touch, or why it cannot.
type tapTarget struct {
	State string  `json:"state"` // ok, missing, disabled, hidden, covered
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	By    string  `json:"by"` // the element on top when covered
}

// tapTargetJS scrolls the element into view and returns its centre, checking
// that a touch there would reach it: it exists, is enabled, has a box, and is
// not under another element (an overlay or a modal).
const tapTargetJS = `((sel) => {
  const el = document.querySelector(sel);
  if (!el) return {state: 'missing'};
  if (el.matches(':disabled') || el.closest('[aria-disabled="true"]')) return {state: 'disabled'};
  el.scrollIntoView({block: 'center', inline: 'center'});
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return {state: 'hidden'};
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  const hit = document.elementFromPoint(x, y);
  if (hit !== el && !el.contains(hit)) {
    const d = hit ? hit.tagName.toLowerCase() + (hit.id ? '#' + hit.id : '') +
      (hit.getAttribute('data-intent') ? '[data-intent="' + hit.getAttribute('data-intent') + '"]' : '') : 'nothing';
    return {state: 'covered', by: d};
  }
  return {state: 'ok', x, y};
})(%s)`

// Tap touches the centre of the element matching the CSS selector with a
// real touch (touchstart/touchend, from which chromium synthesises pointer
// events and the click), as a finger on the kiosk screen does. It waits up to
// StepTimeout for the element to exist, be enabled, visible and on top, and
// fails saying which of those did not hold.
func (b *Browser) Tap(selector string) error {
	js := fmt.Sprintf(tapTargetJS, jsString(selector))
	var tt tapTarget
	err := b.poll(func(ctx context.Context) (bool, error) {
		var now tapTarget
		if err := b.eval(ctx, js, &now); err != nil {
			return false, err
		}
		tt = now
		return tt.State == "ok", nil
	})
	if err != nil {
		switch tt.State {
		case "":
			return fmt.Errorf("uitest: tap %s: %w", selector, err)
		case "covered":
			return fmt.Errorf("uitest: tap %s: still covered by %s after %v: %w", selector, tt.By, b.opts.StepTimeout, err)
		default:
			return fmt.Errorf("uitest: tap %s: element still %s after %v: %w", selector, tt.State, b.opts.StepTimeout, err)
		}
	}
	ctx, cancel := b.ctx(true)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.TapXY(tt.X, tt.Y)); err != nil {
		return fmt.Errorf("uitest: tap %s at (%.0f,%.0f): %w", selector, tt.X, tt.Y, err)
	}
	return nil
}

//go:build !linux

package vpcd

// setQuickACK is a no-op where TCP_QUICKACK does not exist; NODELAY alone still
// helps there.
func setQuickACK(uintptr) error { return nil }

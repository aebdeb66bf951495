//go:build !linux

package barcode

import (
	"errors"
	"io"
)

// openEvdev: keyboard-mode scanners are read through Linux's evdev.
func openEvdev(string) (io.ReadCloser, error) {
	return nil, errors.New("keyboard-mode scanners need Linux evdev; use a serial scanner")
}

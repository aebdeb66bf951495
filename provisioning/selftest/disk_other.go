//go:build !linux

package selftest

import "errors"

// The kiosk image is Linux; elsewhere the disk check says it cannot tell.
func statfsFree(string) (uint64, error) {
	return 0, errors.New("free space is only read on Linux")
}

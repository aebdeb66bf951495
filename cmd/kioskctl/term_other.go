//go:build !linux

package main

import (
	"errors"
	"io"
	"os"
)

// Off Linux kioskctl does not switch terminal echo off: the PIN is read as a
// line, so pipe it in rather than typing it where it is shown.
func isTerminal(*os.File) bool { return false }

func readHidden(*os.File, io.Writer, string) (string, error) {
	return "", errors.New("reading a PIN without echo needs Linux")
}

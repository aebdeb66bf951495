package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// readHidden prompts on w and reads a line from the terminal f with echo off,
// restoring the terminal's settings afterwards.
func readHidden(f *os.File, w io.Writer, prompt string) (string, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	fmt.Fprint(w, prompt)
	// Read byte by byte: nothing past the line may be consumed, the second
	// answer comes next.
	var b strings.Builder
	c := make([]byte, 1)
	for {
		if _, err := f.Read(c); err != nil {
			fmt.Fprintln(w)
			return "", fmt.Errorf("read PIN: %w", err)
		}
		if c[0] == '\n' || c[0] == '\r' {
			break
		}
		if b.Len() < 256 {
			b.WriteByte(c[0])
		}
	}
	fmt.Fprintln(w)
	return b.String(), nil
}

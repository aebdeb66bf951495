package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vnkiosk/kiosk/kiosk/staff"
)

func init() {
	register("staff hash-pin", "hash a staff PIN (read from stdin) into the pin_hash for the hospital: staff list", runStaffHashPIN)
}

func runStaffHashPIN(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return staffHashPIN(ctx, os.Stdin, args, stdout, stderr)
}

// staffHashPIN reads a PIN and prints its argon2id PHC string. On a terminal
// it asks twice without echo; otherwise it reads one line, so that a script can
// pipe the PIN in without it appearing in argv (and so in ps or shell history).
func staffHashPIN(_ context.Context, stdin io.Reader, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("staff hash-pin", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: kioskctl staff hash-pin < PIN\n\nReads a 4 to 8 digit PIN from stdin (without echo on a terminal) and prints\nthe pin_hash to put beside the staff member in the configuration.")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var pin string
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		p1, err := readHidden(f, stderr, "PIN: ")
		if err != nil {
			return err
		}
		if err := staff.CheckPIN(p1); err != nil {
			return err
		}
		p2, err := readHidden(f, stderr, "PIN again: ")
		if err != nil {
			return err
		}
		if p1 != p2 {
			return errors.New("the two PINs differ")
		}
		pin = p1
	} else {
		line, err := bufio.NewReader(io.LimitReader(stdin, 256)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read PIN: %w", err)
		}
		pin = strings.TrimRight(line, "\r\n")
		if pin == "" {
			return usageError{"no PIN on stdin; run: kioskctl staff hash-pin, or echo PIN | kioskctl staff hash-pin"}
		}
	}
	h, err := staff.HashPIN(pin)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, h)
	return nil
}

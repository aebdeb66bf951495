// Package pcsc owns the PC/SC reader layer of the ID card path: it finds readers
// by a configured name pattern, watches card insertion, removal and reader
// hot-plug in one goroutine per process and fans the events out to subscribers,
// and opens a card with a transaction so one ICAO 9303 read is exclusive against
// other PC/SC clients. It talks to pcscd through libpcsclite (github.com/ebfe/scard),
// maps PC/SC status codes to a few sentinel errors, and never logs: APDUs carry
// personal data and keys, so their contents never appear in errors either.
package pcsc

import (
	"errors"
	"fmt"
	"path"

	"github.com/ebfe/scard"
)

// Context is a connection to pcscd for listing readers. It is not safe for
// concurrent use; give each goroutine its own.
type Context struct {
	c *scard.Context
}

// Establish connects to pcscd. It fails with ErrNoService when pcscd is down.
func Establish() (*Context, error) {
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, wrap("establish context", "", err)
	}
	return &Context{c: c}, nil
}

// Release closes the connection to pcscd.
func (c *Context) Release() error {
	return wrap("release context", "", c.c.Release())
}

// ListReaders returns the readers whose name matches pattern, a glob with
// path.Match syntax such as "Virtual PCD*"; an empty pattern matches every
// reader. It fails with ErrNoReader when nothing matches, so a kiosk with its
// reader unplugged says so instead of waiting silently.
func (c *Context) ListReaders(pattern string) ([]string, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("pcsc: reader pattern %q: %w", pattern, err)
	}
	all, err := listReaders(c.c)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range all {
		if MatchReader(pattern, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("pcsc: reader pattern %q (%d readers connected): %w", pattern, len(all), ErrNoReader)
	}
	return out, nil
}

// MatchReader reports whether reader matches pattern as ListReaders does. A
// malformed pattern matches nothing.
func MatchReader(pattern, reader string) bool {
	if pattern == "" {
		return true
	}
	ok, err := path.Match(pattern, reader)
	return err == nil && ok
}

// listReaders returns every reader; none is not an error here.
func listReaders(c *scard.Context) ([]string, error) {
	rs, err := c.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("list readers", "", err)
	}
	return rs, nil
}

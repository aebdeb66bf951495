package main

import (
	"errors"
	"fmt"

	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/provisioning/siteconfig"
)

// overlaySiteConfig applies the site configuration `kioskctl site-config
// fetch` verified and stored in the state directory, verifying it again: a
// file changed on disk since is refused, and the configuration file alone
// stays in force.
func overlaySiteConfig(cfg *config.Config) error {
	doc, err := siteconfig.Load(cfg.StateDir)
	switch {
	case errors.Is(err, siteconfig.ErrNotApplied):
		return nil
	case err != nil:
		return fmt.Errorf("site configuration in %s: %w", cfg.StateDir, err)
	}
	if err := siteconfig.Overlay(cfg, doc); err != nil {
		return fmt.Errorf("site configuration version %d: %w", doc.Version, err)
	}
	return nil
}

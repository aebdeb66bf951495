package config

import "github.com/vnkiosk/kiosk/kiosk/staff"

// Technician opens technician mode on the touchscreen (self-test, devices,
// logs, test print, re-provisioning) with a PIN typed at the kiosk. A staff
// member with the technician role gets there with their card and PIN too.
type Technician struct {
	PINHash string `yaml:"pin_hash"` // argon2id, from `kioskctl staff hash-pin`; "" = card only
}

func (c *Config) validateTechnician() Errors {
	if h := c.Technician.PINHash; h != "" {
		if err := staff.CheckHash(h); err != nil {
			return Errors{c.errf("technician.pin_hash", "%v; make one with kioskctl staff hash-pin", err)}
		}
	}
	return nil
}

// Package session owns the citizen's session at the kiosk: the state machine
// that turns card, scanner, printer and backend events and the touchscreen's
// intents into the one State the screen renders. It lives in the daemon, not in
// the browser, so a reloaded or crashed page loses nothing and a hostile page
// can only ask, never decide. It also owns the session's personal data and its
// end: when a session ends — finished, cancelled, timed out or the card pulled —
// the chip data, scans and form values are wiped from memory and from the
// state the screen is sent.
package session

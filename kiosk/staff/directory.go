package staff

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Role is what a staff member does; the screens offered after login depend on it.
type Role string

// The roles a staff member can have.
const (
	Nurse        Role = "nurse"
	Receptionist Role = "receptionist"
	Technician   Role = "technician"
)

// Roles lists every role, for messages.
var Roles = []Role{Nurse, Receptionist, Technician}

// Valid says whether r is one of Roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Member is one staff member as configured. IDNumber is their own 12-digit ID
// number, kept raw because the insurance gateway needs it (cccdCb, the checker's
// ID number); it is personal data, never logged, and reaches the audit log only
// as a keyed hash.
type Member struct {
	IDNumber string
	Name     string // display name, shown on screen and written to the audit log
	PINHash  string // argon2id PHC string from HashPIN
	Role     Role
}

// Lockout policy: after MaxFailures wrong PINs in a row a staff member cannot log
// in for LockoutFor, whatever PIN they give. The count is in memory: a restart
// clears it, which costs an attacker a reboot per 5 guesses at 80 ms each.
const (
	MaxFailures = 5
	LockoutFor  = 5 * time.Minute
)

// Error is a login failure a staff member is shown; VI and EN are the sentences
// for the screen, Code is for the audit log and metrics. Compare with errors.Is
// against the Err* values, which match on Code.
type Error struct {
	Code     string // unknown_staff, wrong_pin, locked_out, bad_pin
	VI, EN   string
	Until    time.Time // locked_out: when login is possible again
	Attempts int       // wrong_pin: tries left before the lockout
}

func (e *Error) Error() string { return e.EN }

// Is matches errors of the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The login failures.
var (
	ErrUnknownStaff = &Error{Code: "unknown_staff",
		VI: "Thẻ này không thuộc nhân viên nào của cơ sở.",
		EN: "This card does not belong to any staff member here."}
	ErrWrongPIN  = &Error{Code: "wrong_pin", VI: "Mã PIN không đúng.", EN: "Wrong PIN."}
	ErrLockedOut = &Error{Code: "locked_out",
		VI: "Nhập sai mã PIN quá nhiều lần; vui lòng thử lại sau.",
		EN: "Too many wrong PINs; please try again later."}
	ErrBadPIN = &Error{Code: "bad_pin", VI: "Mã PIN gồm 4 đến 8 chữ số.", EN: "A PIN is 4 to 8 digits."}
)

// Directory is the configured staff and their lockout state. It is safe for
// concurrent use.
type Directory struct {
	byID map[string]*Member
	// dummy is verified against when the card is unknown, so an unknown card
	// takes as long as a known one and timing does not tell who is staff. It is
	// made on first need: 80 ms at start-up for a kiosk that may never see one.
	dummyOnce sync.Once
	dummy     string

	mu       sync.Mutex
	failures map[string]*failure // by ID number
}

type failure struct {
	count int
	until time.Time
}

// NewDirectory checks members and builds a directory of them.
func NewDirectory(members []Member) (*Directory, error) {
	d := &Directory{byID: map[string]*Member{}, failures: map[string]*failure{}}
	for i, m := range members {
		switch {
		case !isIDNumber(m.IDNumber):
			return nil, fmt.Errorf("staff member %d: the ID number is not 12 digits", i+1)
		case d.byID[m.IDNumber] != nil:
			return nil, fmt.Errorf("staff member %d: the same ID number as another member", i+1)
		case strings.TrimSpace(m.Name) == "":
			return nil, fmt.Errorf("staff member %d: no name", i+1)
		case !m.Role.Valid():
			return nil, fmt.Errorf("staff member %d: role %q is not one of %v", i+1, m.Role, Roles)
		}
		if err := CheckHash(m.PINHash); err != nil {
			return nil, fmt.Errorf("staff member %d: PIN hash: %w", i+1, err)
		}
		m := m
		d.byID[m.IDNumber] = &m
	}
	return d, nil
}

func isIDNumber(s string) bool {
	return len(s) == 12 && strings.Trim(s, "0123456789") == ""
}

// Name says whether idNumber is a staff member's, and their display name. The
// kiosk asks once the chip has been read and verified, to offer the PIN screen
// to the card's holder, who is that staff member.
func (d *Directory) Name(idNumber string) (string, bool) {
	m := d.byID[idNumber]
	if m == nil {
		return "", false
	}
	return m.Name, true
}

// Len is the number of staff members.
func (d *Directory) Len() int { return len(d.byID) }

// Login checks a staff member's PIN. idNumber is read from the card they placed.
// It returns a copy of the member, or an *Error: ErrUnknownStaff, ErrBadPIN,
// ErrWrongPIN (with the attempts left) or ErrLockedOut (with when it ends). A
// locked-out member is refused without the PIN being checked, so guessing during
// the lockout teaches nothing.
func (d *Directory) Login(idNumber, pin string, now time.Time) (*Member, error) {
	m := d.byID[idNumber]
	if m == nil {
		d.dummyOnce.Do(func() { d.dummy, _ = HashPIN("00000000") })
		_, _ = VerifyPIN(d.dummy, pin)
		return nil, ErrUnknownStaff
	}
	d.mu.Lock()
	f := d.failures[idNumber]
	if f != nil && now.Before(f.until) {
		d.mu.Unlock()
		return nil, locked(f.until)
	}
	d.mu.Unlock()
	if CheckPIN(pin) != nil {
		// A malformed PIN counts as a wrong one: otherwise it is a free probe.
		return nil, d.fail(idNumber, now, ErrBadPIN)
	}
	ok, err := VerifyPIN(m.PINHash, pin)
	if err != nil {
		return nil, fmt.Errorf("staff login: %w", err)
	}
	if !ok {
		return nil, d.fail(idNumber, now, ErrWrongPIN)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// A concurrent wrong PIN may have locked the member while this one was hashed.
	if f := d.failures[idNumber]; f != nil && now.Before(f.until) {
		return nil, locked(f.until)
	}
	delete(d.failures, idNumber)
	c := *m
	return &c, nil
}

func (d *Directory) fail(idNumber string, now time.Time, base *Error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.failures[idNumber]
	if f == nil || (!f.until.IsZero() && !now.Before(f.until)) {
		f = &failure{}
		d.failures[idNumber] = f
	}
	if now.Before(f.until) {
		return locked(f.until)
	}
	f.count++
	if f.count >= MaxFailures {
		f.until = now.Add(LockoutFor)
		return locked(f.until)
	}
	left := MaxFailures - f.count
	e := *base
	e.Attempts = left
	e.VI = fmt.Sprintf("%s Còn %d lần thử.", base.VI, left)
	e.EN = fmt.Sprintf("%s %d tries left.", base.EN, left)
	return &e
}

func locked(until time.Time) *Error {
	e := *ErrLockedOut
	e.Until = until
	return &e
}

package staff

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// cheapHash is a PHC string at the weakest accepted parameters, so the lockout
// tests do not spend seconds in argon2 under -race.
func cheapHash(t *testing.T, pin string) string {
	t.Helper()
	p := phc{memory: minMemory, time: minTime, threads: 1, salt: []byte("0123456789abcdef")}
	p.hash = argon2.IDKey([]byte(pin), p.salt, p.time, p.memory, p.threads, keyLen)
	return p.String()
}

func TestHashPINRoundTrip(t *testing.T) {
	t.Parallel()
	enc, err := HashPIN("482913")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=65536,t=2,p=2$") {
		t.Errorf("encoding %q", enc)
	}
	if ok, err := VerifyPIN(enc, "482913"); !ok || err != nil {
		t.Errorf("right PIN: %v %v", ok, err)
	}
	if ok, err := VerifyPIN(enc, "482914"); ok || err != nil {
		t.Errorf("wrong PIN: %v %v", ok, err)
	}
	again, _ := HashPIN("482913")
	if again == enc {
		t.Error("two hashes of one PIN are equal: the salt is not random")
	}
}

func TestCheckPIN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pin string
		ok  bool
	}{{"1234", true}, {"12345678", true}, {"123", false}, {"123456789", false}, {"12a4", false}, {"١٢٣٤", false}, {"", false}, {" 1234", false}} {
		if err := CheckPIN(tc.pin); (err == nil) != tc.ok {
			t.Errorf("CheckPIN(%q) = %v", tc.pin, err)
		}
		if _, err := HashPIN(tc.pin); (err == nil) != tc.ok {
			t.Errorf("HashPIN(%q) = %v", tc.pin, err)
		}
	}
}

func TestVerifyPINRejectsBadEncodings(t *testing.T) {
	t.Parallel()
	good := cheapHash(t, "1234")
	f := strings.Split(good, "$")
	salt, hash := f[4], f[5]
	for name, enc := range map[string]string{
		"empty":          "",
		"argon2i":        "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + hash,
		"old version":    "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + hash,
		"weak memory":    "$argon2id$v=19$m=4096,t=2,p=1$" + salt + "$" + hash,
		"one pass":       "$argon2id$v=19$m=19456,t=1,p=1$" + salt + "$" + hash,
		"no lanes":       "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + hash,
		"huge memory":    "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + hash,
		"missing p":      "$argon2id$v=19$m=19456,t=2$" + salt + "$" + hash,
		"repeated m":     "$argon2id$v=19$m=19456,m=19456,t=2$" + salt + "$" + hash,
		"unknown key":    "$argon2id$v=19$m=19456,t=2,p=1,x=1$" + salt + "$" + hash,
		"short salt":     "$argon2id$v=19$m=19456,t=2,p=1$YWJj$" + hash,
		"bad base64":     "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$***",
		"short hash":     "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$YWJjZA",
		"extra field":    good + "$x",
		"padded base64":  "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + hash,
		"plain pin text": "1234",
	} {
		ok, err := VerifyPIN(enc, "1234")
		if ok || !errors.Is(err, ErrBadHash) {
			t.Errorf("%s: VerifyPIN(%q) = %v, %v; want ErrBadHash", name, enc, ok, err)
		}
		if CheckHash(enc) == nil {
			t.Errorf("%s: CheckHash accepted %q", name, enc)
		}
	}
	if ok, err := VerifyPIN(good, "1234"); !ok || err != nil {
		t.Errorf("good: %v %v", ok, err)
	}
}

// TestVerifyPINComparesWholeHash checks the comparison is of the whole hash, not
// a prefix: a stored hash differing only in its last byte must not match.
func TestVerifyPINComparesWholeHash(t *testing.T) {
	t.Parallel()
	p, err := parsePHC(cheapHash(t, "1234"))
	if err != nil {
		t.Fatal(err)
	}
	p.hash[len(p.hash)-1] ^= 1
	if ok, err := VerifyPIN(p.String(), "1234"); ok || err != nil {
		t.Errorf("altered hash: %v %v", ok, err)
	}
}

const (
	nurseID = "001090000001"
	techID  = "001090000002"
)

func directory(t *testing.T) *Directory {
	t.Helper()
	d, err := NewDirectory([]Member{
		{IDNumber: nurseID, Name: "Y tá A", PINHash: cheapHash(t, "1357"), Role: Nurse},
		{IDNumber: techID, Name: "Kỹ thuật viên B", PINHash: cheapHash(t, "2468"), Role: Technician},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLogin(t *testing.T) {
	t.Parallel()
	d := directory(t)
	now := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	m, err := d.Login(nurseID, "1357", now)
	if err != nil || m.Name != "Y tá A" || m.Role != Nurse {
		t.Fatalf("login: %+v %v", m, err)
	}
	m.Name = "changed"
	if m2, _ := d.Login(nurseID, "1357", now); m2.Name != "Y tá A" {
		t.Error("Login returned the directory's own member, not a copy")
	}
	if _, err := d.Login("079090000009", "1357", now); !errors.Is(err, ErrUnknownStaff) {
		t.Errorf("unknown card: %v", err)
	}
	_, err = d.Login(nurseID, "2468", now)
	var le *Error
	if !errors.Is(err, ErrWrongPIN) || !errors.As(err, &le) || le.Attempts != MaxFailures-1 || le.VI == "" || !strings.Contains(le.EN, "4 tries left") {
		t.Errorf("wrong PIN: %#v", err)
	}
	if _, err := d.Login(nurseID, "12", now); !errors.Is(err, ErrBadPIN) {
		t.Errorf("short PIN: %v", err)
	}
	// A right PIN clears the count.
	if _, err := d.Login(nurseID, "1357", now); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Login(nurseID, "0000", now); !errors.As(err, &le) || le.Attempts != MaxFailures-1 {
		t.Errorf("count not reset after success: %v", err)
	}
}

func TestLoginLockout(t *testing.T) {
	t.Parallel()
	d := directory(t)
	now := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	for i := 1; i < MaxFailures; i++ {
		if _, err := d.Login(nurseID, "9999", now); !errors.Is(err, ErrWrongPIN) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	_, err := d.Login(nurseID, "9999", now)
	var le *Error
	if !errors.Is(err, ErrLockedOut) || !errors.As(err, &le) || !le.Until.Equal(now.Add(LockoutFor)) {
		t.Fatalf("fifth failure: %v", err)
	}
	// Locked: even the right PIN is refused, and the other staff member is not.
	if _, err := d.Login(nurseID, "1357", now.Add(LockoutFor-time.Second)); !errors.Is(err, ErrLockedOut) {
		t.Errorf("right PIN during lockout: %v", err)
	}
	if _, err := d.Login(techID, "2468", now); err != nil {
		t.Errorf("other member locked too: %v", err)
	}
	// The lockout ends, and the count starts again from zero.
	if _, err := d.Login(nurseID, "9999", now.Add(LockoutFor)); !errors.As(err, &le) || le.Attempts != MaxFailures-1 {
		t.Errorf("after lockout, wrong PIN: %v", err)
	}
	if m, err := d.Login(nurseID, "1357", now.Add(LockoutFor)); err != nil || m.IDNumber != nurseID {
		t.Errorf("after lockout, right PIN: %v", err)
	}
}

func TestLoginConcurrentGuessesStillLock(t *testing.T) {
	t.Parallel()
	d := directory(t)
	now := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for range 2 * MaxFailures {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = d.Login(nurseID, "9999", now)
		}()
	}
	wg.Wait()
	if _, err := d.Login(nurseID, "1357", now); !errors.Is(err, ErrLockedOut) {
		t.Errorf("after %d concurrent wrong PINs: %v", 2*MaxFailures, err)
	}
}

func TestNewDirectoryRejects(t *testing.T) {
	t.Parallel()
	h := cheapHash(t, "1234")
	for name, ms := range map[string][]Member{
		"short ID":     {{IDNumber: "12345", Name: "A", PINHash: h, Role: Nurse}},
		"duplicate ID": {{IDNumber: nurseID, Name: "A", PINHash: h, Role: Nurse}, {IDNumber: nurseID, Name: "B", PINHash: h, Role: Nurse}},
		"no name":      {{IDNumber: nurseID, Name: " ", PINHash: h, Role: Nurse}},
		"bad role":     {{IDNumber: nurseID, Name: "A", PINHash: h, Role: "doctor"}},
		"raw PIN":      {{IDNumber: nurseID, Name: "A", PINHash: "1234", Role: Nurse}},
	} {
		if _, err := NewDirectory(ms); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), nurseID) {
			t.Errorf("%s: error %q carries the ID number", name, err)
		}
	}
}

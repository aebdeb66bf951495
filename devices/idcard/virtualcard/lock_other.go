//go:build !unix

package virtualcard

// lockDir does nothing where flock(2) does not exist.
func lockDir(string) (func(), error) { return func() {}, nil }

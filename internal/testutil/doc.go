// Package testutil holds the helpers that the module's tests share: a clock tests move by
// hand, a log buffer that records slog output, a sleeper that records delays instead of
// sleeping, RSA test keys, a JSON Web Key Set server standing in for an issuer's key
// endpoint, and JWS signing.
//
// It is a normal package so that tests in several packages can import it; only _test.go
// files do. It imports no package of this module, so tests inside any package (package
// foo as well as foo_test) can use it without an import cycle.
package testutil

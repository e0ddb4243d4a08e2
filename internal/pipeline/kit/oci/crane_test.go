package oci

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// What crane prints decides "absent" and "denied"; anything else stays an error. (The methods
// run against a real registry in the release package's promote tests.)
func TestNotFoundAndDeniedReadCranesOutput(t *testing.T) {
	fail := func(out string) error {
		return fmt.Errorf("reading: %w", &run.Error{Command: "crane digest x", Output: out, Err: errors.New("exit status 1")})
	}
	for _, tc := range []struct {
		err              error
		notFound, denied bool
	}{
		{fail(`GET http://127.0.0.1:5000/v2/x/manifests/v1: MANIFEST_UNKNOWN: manifest unknown`), true, false},
		{fail(`NAME_UNKNOWN: repository name not known to registry`), true, false},
		{fail(`unexpected status code 404 Not Found`), true, false},
		{fail(`UNAUTHORIZED: authentication required`), false, true},
		{fail(`DENIED: requested access to the resource is denied`), false, true},
		{fail(`dial tcp 127.0.0.1:5000: connect: connection refused`), false, false},
		{errors.New("MANIFEST_UNKNOWN, but not from a command"), false, false},
		{nil, false, false},
	} {
		if got := NotFound(tc.err); got != tc.notFound {
			t.Errorf("NotFound(%v) = %v", tc.err, got)
		}
		if got := Denied(tc.err); got != tc.denied {
			t.Errorf("Denied(%v) = %v", tc.err, got)
		}
	}
}

// A crane that cannot run is an error for every question, never "absent".
func TestLookupOfAMissingCraneIsAnError(t *testing.T) {
	_, found, err := Crane{Bin: "/nonexistent/crane"}.Lookup(context.Background(), "127.0.0.1:1/x:v1")
	if err == nil || found {
		t.Fatalf("Lookup = found %v, %v; want an error", found, err)
	}
}

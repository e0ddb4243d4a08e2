package artifact

import (
	"strings"
	"testing"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseRef(t *testing.T) {
	for _, tc := range []struct{ ref, want, err string }{
		{"ghcr.io/acme/widget@" + digest, "ghcr.io/acme/widget@" + digest, ""},
		{"ghcr.io/acme/widget:v1.2.3@" + digest, "ghcr.io/acme/widget@" + digest, ""},
		{"127.0.0.1:5000/widget@" + digest, "127.0.0.1:5000/widget@" + digest, ""},
		{"127.0.0.1:5000/widget:v1@" + digest, "127.0.0.1:5000/widget@" + digest, ""},
		{"ghcr.io/acme/widget:v1.2.3", "", "not pinned by digest"},
		{"ghcr.io/acme/widget@sha256:abc", "", "not pinned by digest"},
		{"@" + digest, "", "no name"},
	} {
		got, err := ParseRef(tc.ref)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRef(%q): got %v, want an error containing %q", tc.ref, err, tc.err)
			}
			continue
		}
		if err != nil || got.Ref() != tc.want {
			t.Errorf("ParseRef(%q) = %v, %v; want %s", tc.ref, got, err, tc.want)
		}
	}
}

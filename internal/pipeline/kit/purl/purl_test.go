package purl

import (
	"testing"

	"github.com/package-url/packageurl-go"
)

func TestGo(t *testing.T) {
	for path, want := range map[string]string{
		"golang.org/x/mod":              "pkg:golang/golang.org/x/mod@v0.42.0",
		"stdlib":                        "pkg:golang/stdlib@v0.42.0",
		"github.com/BurntSushi/toml/v2": "pkg:golang/github.com/BurntSushi/toml/v2@v0.42.0",
	} {
		if got := Go(path, "v0.42.0"); got != want {
			t.Errorf("Go(%q) = %s, want %s", path, got, want)
		}
	}
	// "+incompatible" must survive a round trip: '+' is escaped in a purl version.
	p, err := packageurl.FromString(Go("github.com/x/y", "v2.0.0+incompatible"))
	if err != nil || p.Version != "v2.0.0+incompatible" || p.Namespace != "github.com/x" || p.Name != "y" {
		t.Fatalf("round trip: %+v, %v", p, err)
	}
}

func TestOCI(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	got := OCI("ghcr.io/Owner/Slipway", digest)
	p, err := packageurl.FromString(got)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != "oci" || p.Name != "slipway" || p.Version != digest || p.Qualifiers.Map()["repository_url"] != "ghcr.io/Owner/Slipway" {
		t.Fatalf("OCI = %s, parsed %+v", got, p)
	}
}

package release

import (
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"strings"
	"testing"
)

func ready() State {
	return State{Tag: "v1.2.3", Registry: "ghcr.io/acme", OIDC: true}
}

func TestDecidePublishesOnlyWithEverything(t *testing.T) {
	p, err := Decide(ready(), nil)
	if err != nil || !p.Publish || p.Identity != "keyless" {
		t.Fatalf("Decide(ready) = %+v, %v; want a keyless publishing release", p, err)
	}
	withKey := ready()
	withKey.OIDC, withKey.CosignKey = false, "awskms:///alias/release"
	if p, err := Decide(withKey, nil); err != nil || !p.Publish || p.Identity != "key" {
		t.Fatalf("Decide(with COSIGN_KEY) = %+v, %v; want publishing with the key", p, err)
	}

	for _, tc := range []struct {
		name   string
		change func(*State)
		reason string
	}{
		{"no tag", func(s *State) { s.Tag = "" }, "no release tag"},
		{"dirty", func(s *State) { s.Dirty = true }, "uncommitted changes"},
		{"no registry", func(s *State) { s.Registry = "" }, "SLIPWAY_REGISTRY is not set"},
		{"no identity", func(s *State) { s.OIDC = false }, "no signing identity"},
		{"offline", func(s *State) { s.Offline = true }, "SLIPWAY_OFFLINE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ready()
			tc.change(&s)
			p, err := Decide(s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.Publish {
				t.Fatal("published without every condition")
			}
			if len(p.Local) != 1 || !strings.Contains(p.Local[0], tc.reason) {
				t.Fatalf("reasons %q, want exactly one mentioning %q", p.Local, tc.reason)
			}
			if p.Identity != "key" {
				t.Fatalf("a local release signs with the local key, got %q", p.Identity)
			}
		})
	}
}

func TestDecideListsEveryMissingCondition(t *testing.T) {
	p, err := Decide(State{Dirty: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Local) != 4 {
		t.Fatalf("reasons %q: want tag, tree, registry and identity", p.Local)
	}
}

func TestDecideRefusesATagBuildThatCannotPublish(t *testing.T) {
	s := ready()
	s.TagBuild, s.Registry = true, ""
	_, err := Decide(s, nil)
	if err == nil || !strings.Contains(err.Error(), "must publish") || !strings.Contains(err.Error(), "SLIPWAY_REGISTRY") {
		t.Fatalf("tag build without a registry: %v", err)
	}
}

func TestDecideRefusesSkipWhenPublishing(t *testing.T) {
	_, err := Decide(ready(), Skips{"scan"})
	if err == nil || !strings.Contains(err.Error(), "SKIP=scan") {
		t.Fatalf("publishing with SKIP=scan: %v", err)
	}
	// A local release may skip.
	s := ready()
	s.Tag = ""
	if _, err := Decide(s, Skips{"scan"}); err != nil {
		t.Fatal(err)
	}
}

func TestReadStateFromEnvironment(t *testing.T) {
	t.Setenv("SLIPWAY_REGISTRY", " ghcr.io/acme/ ")
	t.Setenv("COSIGN_KEY", "")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "https://token.example")
	t.Setenv("SIGSTORE_ID_TOKEN", "")
	t.Setenv("GITHUB_REF_TYPE", "branch")
	t.Setenv("SLIPWAY_OFFLINE", "") // CI runs the tests offline
	s := ReadState(settings.Current())
	if s.Registry != "ghcr.io/acme" || !s.OIDC || s.TagBuild || s.Offline {
		t.Fatalf("ReadState = %+v", s)
	}
}

func TestParseSkip(t *testing.T) {
	s, err := ParseSkip(" Scan, images,,scan ")
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 || !s.Has("scan") || !s.Has("images") || s.Has("sign") {
		t.Fatalf("ParseSkip = %v", s)
	}
	if s.String() != "SKIP=scan,images" {
		t.Fatalf("String() = %q", s)
	}
	if s, err := ParseSkip(""); err != nil || len(s) != 0 {
		t.Fatalf("empty SKIP = %v, %v", s, err)
	}
	_, err = ParseSkip("scan,sbmo")
	if err == nil || !strings.Contains(err.Error(), `unknown stage "sbmo"`) || !strings.Contains(err.Error(), "sbom") {
		t.Fatalf("a typo must fail and list the stages: %v", err)
	}
}

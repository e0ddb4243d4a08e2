package release

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

// Promotion tags what ko tags in the staging registry: .goreleaser.yaml's kos.tags and
// imageTags are one definition, the version and latest unless a pre-release.
func TestImageTagsAreGoreleasersKosTags(t *testing.T) {
	root := projecttest.Root(t)
	c, err := readConfig(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"{{ .Version }}", "{{ if not .Prerelease }}latest{{ end }}"}
	if len(c.Kos) != 1 || !slices.Equal(c.Kos[0].Tags, want) {
		t.Fatalf("%s kos tags %v; imageTags implements %v: change both together", ConfigFile, c.Kos, want)
	}
	for version, tags := range map[string][]string{
		"1.2.3":       {"1.2.3", "latest"},
		"1.2.3+build": {"1.2.3+build", "latest"},
		"1.2.3-rc.1":  {"1.2.3-rc.1"},
		"0.0.1-e2e":   {"0.0.1-e2e"},
	} {
		if got := imageTags(version); !slices.Equal(got, tags) {
			t.Errorf("imageTags(%s) = %v, want %v", version, got, tags)
		}
	}
}

// SLIPWAY_SIGN_TLOG=false is for a key only; anything but true or false is an error.
func TestSignTlog(t *testing.T) {
	for _, c := range []struct {
		v, key string
		want   bool
		err    bool
	}{
		{"", "k", true, false}, {"true", "", true, false}, {"false", "k", false, false},
		{"false", "", false, true}, {"no", "k", false, true},
	} {
		s, err := settings.Load([]string{TlogEnv + "=" + c.v})
		if err != nil {
			t.Fatal(err)
		}
		got, err := signTlog(s.SignTlog, c.key)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("%s=%q key=%q: %v, %v", TlogEnv, c.v, c.key, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), TlogEnv) {
			t.Errorf("the error does not name %s: %v", TlogEnv, err)
		}
	}
}

// After promotion dist/ names the published images: the staging repository is replaced in the
// image records only, tags and digests kept, every other record untouched.
func TestRecordPublished(t *testing.T) {
	dist := t.TempDir()
	staged, target := "127.0.0.1:5798/staging/1/slipway", "registry.example.com/acme/slipway"
	arts := `[
		{"name":"slipway_1.0.0_linux_amd64.tar.gz","path":"dist/slipway_1.0.0_linux_amd64.tar.gz","type":"Archive"},
		{"name":"` + staged + `:1.0.0@sha256:aa","path":"` + staged + `:1.0.0@sha256:aa","type":"Docker Manifest","extra":{"Digest":"sha256:aa"}},
		{"name":"` + staged + `-other@sha256:bb","path":"x","type":"Docker Manifest","extra":{"Digest":"sha256:bb"}}
	]`
	if err := os.WriteFile(filepath.Join(dist, artifactsJSON), []byte(arts), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := recordPublished(dist, staged, target); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadImages(dist)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Repo != target || recs[0].Digest != "sha256:aa" || !slices.Equal(recs[0].Tags, []string{"1.0.0"}) ||
		recs[1].Repo != staged+"-other" {
		t.Fatalf("records after promotion: %+v", recs)
	}
	var all []map[string]any
	data, _ := os.ReadFile(filepath.Join(dist, artifactsJSON))
	if err := json.Unmarshal(data, &all); err != nil || all[0]["path"] != "dist/slipway_1.0.0_linux_amd64.tar.gz" {
		t.Fatalf("other records changed: %v %v", all, err)
	}
}

// A publishing release refuses, before building anything, to verify against the project-local
// key (nothing names the key users verify with) and to ship stand-ins from a CI tag build.
func TestPreparePublishingRefusesBeforeBuilding(t *testing.T) {
	root := t.TempDir()
	in := inputs{root: root, version: "1.2.3", cosign: "cosign-not-run", crane: "crane-not-run",
		state: State{Tag: "v1.2.3", Registry: "registry.example.com/acme", CosignKey: "/keys/cosign.key"}}
	for _, k := range []string{"VERIFY_KEY", "VERIFY_CERT_IDENTITY", "VERIFY_CERT_ISSUER", "GITHUB_WORKFLOW_REF", TlogEnv, image.ShipStandInsEnv} {
		t.Setenv(k, "")
	}
	t.Setenv("COSIGN_KEY", in.state.CosignKey)
	if _, err := preparePublishing(context.Background(), Options{Root: root, Settings: settings.Current()}, in); err == nil || !strings.Contains(err.Error(), "VERIFY_KEY") {
		t.Fatalf("no VERIFY_KEY: %v", err)
	}
	t.Setenv("VERIFY_KEY", "/keys/cosign.pub")
	t.Setenv(image.ShipStandInsEnv, "1")
	in.state.TagBuild = true
	if _, err := preparePublishing(context.Background(), Options{Root: root, Settings: settings.Current()}, in); err == nil || !strings.Contains(err.Error(), image.ShipStandInsEnv) {
		t.Fatalf("stand-ins in a tag build: %v", err)
	}
}

package release

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

func TestSummaryListsEverythingAndHowToVerifyIt(t *testing.T) {
	idx := "sha256:" + strings.Repeat("1", 64)
	amd := "sha256:" + strings.Repeat("2", 64)
	att := "sha256:" + strings.Repeat("3", 64)
	s := Summary{
		Version: "0.1.0-dev.3+gabc1234",
		Plan:    Plan{Local: []string{"HEAD has no release tag (vX.Y.Z)"}},
		Stages: []stage.Result{
			{Name: "goreleaser", Status: stage.OK, Duration: 42 * time.Second},
			{Name: "scan", Status: stage.Skipped, Note: "SKIP=scan"},
		},
		Checked: Checked{
			Files: []artifact.File{
				{Name: "slipway_0.1.0_linux_amd64.tar.gz", Kind: artifact.KindArchive, Size: 736_870, SHA256: strings.Repeat("e", 64)},
				{Name: "slipway_0.1.0.provenance.json.sigstore.json", Kind: artifact.KindAttestation, Size: 31_000, SHA256: strings.Repeat("a", 64)},
			},
			Images: []artifact.Image{{Repo: "127.0.0.1:5000/slipway", Tags: []string{"0.1.0-dev.3-gabc1234"}, Digest: idx,
				Platforms: []artifact.Platform{{OS: "linux", Arch: "amd64", Digest: amd, Size: 4_404_019}}}},
			Attestations: []artifact.Attestation{
				{Image: "127.0.0.1:5000/slipway@" + idx, Type: artifact.ProvenanceType, Digests: []string{att}},
				{Image: "127.0.0.1:5000/slipway@" + amd, Type: artifact.SBOMType, Digests: []string{att}},
			},
			NoVEX: "govulncheck did not run: offline",
		},
		Root:     "/src",
		Dist:     "/src/dist",
		Extra:    []artifact.File{{Name: "checksums.txt", Size: 120, SHA256: strings.Repeat("f", 64)}},
		Verifier: sign.Verifier{Key: "/src/.slipway/cosign.pub"},
	}
	var out bytes.Buffer
	s.Write(&out)
	got := out.String()
	for _, want := range []string{
		"LOCAL release (not published: HEAD has no release tag (vX.Y.Z))",
		"scan        -    SKIPPED (SKIP=scan)",
		"total       42s",
		"Artifacts in dist (3)",
		"slipway_0.1.0_linux_amd64.tar.gz             719.6 KiB  sha256:" + strings.Repeat("e", 64),
		"checksums.txt                                120 B      sha256:",
		"127.0.0.1:5000/slipway@" + idx + "  (tags: 0.1.0-dev.3-gabc1234)",
		"linux/amd64  4.2 MiB   " + amd,
		"cosign verify-blob --key=.slipway/cosign.pub --insecure-ignore-tlog=true --bundle=dist/release.json.sigstore.json dist/release.json",
		"cosign verify-blob --key=.slipway/cosign.pub --insecure-ignore-tlog=true --bundle=dist/checksums.txt.sigstore.json dist/checksums.txt",
		"(cd dist && sha256sum --check checksums.txt)",
		"cosign verify --key=.slipway/cosign.pub --insecure-ignore-tlog=true 127.0.0.1:5000/slipway@" + idx,
		"cosign verify-attestation --key=.slipway/cosign.pub --insecure-ignore-tlog=true --type=cyclonedx 127.0.0.1:5000/slipway@" + amd,
		"cosign verify-attestation --key=.slipway/cosign.pub --insecure-ignore-tlog=true --type=slsaprovenance1 127.0.0.1:5000/slipway@" + idx,
		"cosign verify-blob-attestation --key=.slipway/cosign.pub --insecure-ignore-tlog=true --type=slsaprovenance1 " +
			"--bundle=dist/slipway_0.1.0.provenance.json.sigstore.json dist/slipway_0.1.0_linux_amd64.tar.gz",
		"Attestations\n  slipway_0.1.0.provenance.json.sigstore.json: slsaprovenance1 of 1 archives (a file, listed above)\n" +
			"  index 127.0.0.1:5000/slipway@" + idx + "\n    slsaprovenance1  " + att + "\n" +
			"  linux/amd64 127.0.0.1:5000/slipway@" + amd + "\n    cyclonedx        " + att + "\n",
		"VEX: none (govulncheck did not run: offline)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

func TestSummarySaysAnArchivesOnlyReleaseHasNoImages(t *testing.T) {
	var out bytes.Buffer
	Summary{Checked: Checked{ArchivesOnly: true}, Root: "/src", Dist: "/src/dist", Verifier: sign.Verifier{Key: "k"}}.Write(&out)
	if !strings.Contains(out.String(), "Images: none (archives only, as release.json records)") {
		t.Fatalf("summary of an archives-only release:\n%s", out.String())
	}
}

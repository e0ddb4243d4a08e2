package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/sign"
	"github.com/slipway-dev/slipway/internal/pipeline/tools/toolstest"
)

// fakeRelease writes a signed dist/ the way goreleaser lays it out: archives, their SBOMs,
// checksums.txt and its bundle. It returns the dist directory and a verifier for it.
func fakeRelease(t *testing.T, files map[string]string) (string, sign.Verifier) {
	t.Helper()
	cosign := toolstest.Installed(t, "cosign")
	t.Setenv(sign.PasswordEnv, "test")
	dir := t.TempDir()
	dist := filepath.Join(dir, "dist")
	if err := os.Mkdir(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	var sums strings.Builder
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dist, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256([]byte(content))
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(h[:]), name)
	}
	sumsPath := filepath.Join(dist, ChecksumsFile)
	if err := os.WriteFile(sumsPath, []byte(sums.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	key := sign.KeyPair{Private: filepath.Join(dir, "cosign.key"), Public: filepath.Join(dir, "cosign.pub")}
	if _, err := key.Ensure(context.Background(), cosign); err != nil {
		t.Fatal(err)
	}
	if err := (sign.Signer{Cosign: cosign, Key: key.Private}).SignBlob(context.Background(), sumsPath, sumsPath+BundleSuffix); err != nil {
		t.Fatal(err)
	}
	return dist, sign.Verifier{Cosign: cosign, Key: key.Public}
}

var releaseFiles = map[string]string{
	"slipway_1.0.0_linux_amd64.tar.gz":              "archive bytes",
	"slipway_1.0.0_linux_amd64.tar.gz" + SBOMSuffix: `{"bomFormat":"CycloneDX"}`,
	"slipway_1.0.0_windows_amd64.zip":               "zip bytes",
	"slipway_1.0.0_windows_amd64.zip" + SBOMSuffix:  `{"bomFormat":"CycloneDX"}`,
}

func TestVerifyPassesAnIntactRelease(t *testing.T) {
	dist, v := fakeRelease(t, releaseFiles)
	c, err := Verify(context.Background(), dist, v, "crane-not-needed", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files) != 4 {
		t.Fatalf("checked %d files, want 4", len(c.Files))
	}
	if len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "images NOT CHECKED") {
		t.Fatalf("notes %q: a dist without artifacts.json must say its images were not checked", c.Notes)
	}
}

func TestVerifyNamesAChangedArchive(t *testing.T) {
	dist, v := fakeRelease(t, releaseFiles)
	archive := filepath.Join(dist, "slipway_1.0.0_linux_amd64.tar.gz")
	if err := os.WriteFile(archive, []byte("archive bytez"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Verify(context.Background(), dist, v, "crane-not-needed", true)
	if err == nil || !strings.Contains(err.Error(), "slipway_1.0.0_linux_amd64.tar.gz: sha256") {
		t.Fatalf("Verify after a one-byte change: %v", err)
	}
}

func TestVerifyNamesAMissingFileAndSBOM(t *testing.T) {
	files := map[string]string{}
	for k, v := range releaseFiles {
		files[k] = v
	}
	delete(files, "slipway_1.0.0_windows_amd64.zip"+SBOMSuffix)
	dist, v := fakeRelease(t, files)
	if err := os.Remove(filepath.Join(dist, "slipway_1.0.0_linux_amd64.tar.gz"+SBOMSuffix)); err != nil {
		t.Fatal(err)
	}
	_, err := Verify(context.Background(), dist, v, "crane-not-needed", true)
	if err == nil {
		t.Fatal("Verify passed with a missing file and an archive without SBOM")
	}
	for _, want := range []string{
		"slipway_1.0.0_linux_amd64.tar.gz.sbom.cdx.json: listed in checksums.txt but it is missing",
		"slipway_1.0.0_windows_amd64.zip: no SBOM",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestVerifyRejectsAChecksumsFileSignedByAnotherKey(t *testing.T) {
	dist, _ := fakeRelease(t, releaseFiles)
	_, other := fakeRelease(t, releaseFiles)
	_, err := Verify(context.Background(), dist, other, "crane-not-needed", true)
	if err == nil || !strings.Contains(err.Error(), "checksums.txt: signature does not verify") {
		t.Fatalf("Verify with another key: %v", err)
	}
	// Without signatures (a release run with SKIP=sign) the same dist passes, and says why.
	c, err := Verify(context.Background(), dist, other, "crane-not-needed", false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(c.Notes, "\n"), "signatures NOT CHECKED") {
		t.Fatalf("notes %q do not say the signatures were skipped", c.Notes)
	}
}

func TestVerifyRefusesAMalformedChecksumsFile(t *testing.T) {
	dist, v := fakeRelease(t, releaseFiles)
	if err := os.WriteFile(filepath.Join(dist, ChecksumsFile), []byte("abc  ../etc/passwd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Verify(context.Background(), dist, v, "crane-not-needed", false)
	if err == nil || !strings.Contains(err.Error(), "not a \"<sha256>  <file>\" line") {
		t.Fatalf("Verify with a malformed checksums file: %v", err)
	}
}

func TestReadImagesReadsKosIndexes(t *testing.T) {
	root := writeConfig(t, "builds: [{id: slipway}]\nkos:\n  - build: slipway\n    platforms: [linux/amd64, linux/arm64]\n")
	dist := filepath.Join(root, "dist")
	if err := os.Mkdir(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	if ps, err := imagePlatforms(dist); err != nil || strings.Join(ps, ",") != "linux/amd64,linux/arm64" {
		t.Fatalf("imagePlatforms = %v, %v", ps, err)
	}
	digest := "sha256:" + strings.Repeat("a", 64)
	// ko names the index repo@digest, or repo:tag@digest when it pushed a single tag.
	js := fmt.Sprintf(`[
	  {"name":"slipway_1.0.0_linux_amd64.tar.gz","type":"Archive"},
	  {"name":"127.0.0.1:5000/slipway@%s","type":"Docker Manifest","extra":{"Digest":%q}},
	  {"name":"127.0.0.1:5000/other:1.0.0@%s","type":"Docker Manifest","extra":{"Digest":%q}}
	]`, digest, digest, digest, digest)
	if err := os.WriteFile(filepath.Join(dist, artifactsJSON), []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	imgs, err := ReadImages(dist)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 || imgs[0].Repo != "127.0.0.1:5000/slipway" || imgs[0].Digest != digest || len(imgs[0].Tags) != 0 ||
		imgs[1].Repo != "127.0.0.1:5000/other" || strings.Join(imgs[1].Tags, ",") != "1.0.0" {
		t.Fatalf("ReadImages = %+v", imgs)
	}

	unpushed := `[{"name":"ko.local/slipway:1.0.0","type":"Docker Manifest","extra":{}}]`
	if err := os.WriteFile(filepath.Join(dist, artifactsJSON), []byte(unpushed), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadImages(dist); err == nil || !strings.Contains(err.Error(), "was not pushed") {
		t.Fatalf("an image without digest: %v", err)
	}
}

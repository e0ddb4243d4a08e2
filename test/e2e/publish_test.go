//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools/toolstest"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/standin"
	"github.com/slipway-dev/slipway/internal/pipeline/quality"
	"github.com/slipway-dev/slipway/internal/pipeline/release"
	"github.com/slipway-dev/slipway/internal/pipeline/release/githubtest"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// TestPublish is a publishing `mage release` of an exact tag on a clean tree, signed with a
// COSIGN_KEY, to SLIPWAY_REGISTRY: the project's pinned registry with TLS from a test CA and
// htpasswd logins, on a loopback port, standing in for a real one. A planted secret (the scan
// gate fails) and a wrong VERIFY_KEY (verify fails) each leave the target registry empty; then
// the release goes out, and what arrived is checked in the target with the public key.
//
// What it cannot reach is stood in for, each for a stated reason: the base image is the
// offline stand-in (no pull; image.ShipStandInsEnv, test only), the vulnerability databases are
// fixtures with no advisory against this build (the scanners run; they find nothing), and
// signing has no transparency log (no Rekor here: SLIPWAY_SIGN_TLOG=false), and GitHub's
// releases API is githubtest's stand-in on a loopback port (GITHUB_API_URL), which keeps what a
// real one would: the draft, its files' bytes, when it went public.
func TestPublish(t *testing.T) {
	ctx := context.Background()
	crane, cosign := toolstest.Path(t, "crane"), toolstest.Path(t, "cosign")
	clone := freshClone(t)
	staging := startRegistry(t)
	target := startTargetRegistry(t)
	const tag, version = "v0.0.1-e2e", "0.0.1-e2e"
	gh := githubtest.New(t, "slipway-dev", "slipway", tag)
	// The test's own cosign and crane calls trust and log in to the target as the release does.
	t.Setenv("SSL_CERT_FILE", target.caBundle)
	t.Setenv("DOCKER_CONFIG", target.dockerConfig)

	// The stand-in base image and a Trivy database, where an image mirror keeps them.
	mirror := staging + "/" + image.StandInPrefix
	if _, err := standin.Build(ctx, standin.Options{Crane: crane, Registry: staging, Cache: t.TempDir(), Out: testWriter{t},
		Only: []image.Ref{image.Distroless}}); err != nil {
		t.Fatal(err)
	}
	trivyDB(t, crane, mirror+"/aquasecurity/trivy-db:2", "example.invalid/not-a-dependency", "GHSA-slwy-none-0001")

	t.Setenv(sign.PasswordEnv, "e2e-publish")
	keyDir := t.TempDir()
	key := sign.KeyPair{Private: filepath.Join(keyDir, "release.key"), Public: filepath.Join(keyDir, "release.pub")}
	if _, err := key.Ensure(ctx, cosign); err != nil {
		t.Fatal(err)
	}
	ours := sign.Verifier{Cosign: cosign, Key: key.Public}
	other := sign.Verifier{Cosign: cosign, Key: otherKey(t, cosign).Public}

	env := []string{
		"SLIPWAY_OFFLINE=", "SLIPWAY_REGISTRY_ADDR=" + staging, "SLIPWAY_IMAGE_MIRROR=" + mirror, image.ShipStandInsEnv + "=1",
		"SLIPWAY_REGISTRY=" + target.addr, "COSIGN_KEY=" + key.Private, "COSIGN_PASSWORD=e2e-publish", "VERIFY_KEY=" + key.Public,
		release.TlogEnv + "=false", quality.VulnDBEnv + "=" + emptyVulnDB(t), "SLIPWAY_TRIVY_DB=",
		"SSL_CERT_FILE=" + target.caBundle, "DOCKER_CONFIG=" + target.dockerConfig,
		release.TokenEnv + "=" + githubtest.Token, "GITHUB_API_URL=" + gh.URL, "GITHUB_REF_TYPE=", "ACTIONS_ID_TOKEN_REQUEST_URL=", "SIGSTORE_ID_TOKEN=",
		"VERIFY_CERT_IDENTITY=", "VERIFY_CERT_ISSUER=", "SKIP=", "SLIPWAY_DIST=",
	}
	commit := func(msg string) {
		git(t, clone, "add", "-A")
		git(t, clone, "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", "commit", "--quiet", "-m", msg)
		git(t, clone, "tag", "-f", tag)
	}
	timed := func(what string, run func() string) string {
		start := time.Now()
		out := run()
		t.Logf("%s: %s", what, time.Since(start).Round(time.Second))
		if i, j := strings.Index(out, "\nStages\n"), strings.Index(out, "\nOne-off setup"); i >= 0 && j > i {
			t.Log(out[i:j])
		}
		return out
	}

	t.Run("a scan failure leaves nothing in the target registry", func(t *testing.T) {
		// Built at run time: the token must never sit in the repository.
		token := "ghp" + "_" + strings.Repeat("x7Kq2", 7) + "Z"
		write(t, filepath.Join(clone, "internal", "leak", "leak.go"), "package leak\n\nconst token = \""+token+"\"\n")
		commit("e2e: a leaked token")
		out := timed("publishing release failing its scan", func() string { return mageFails(t, clone, env, "release") })
		for _, want := range []string{"publishing " + version + " to " + target.addr, "github-pat", "internal/leak/leak.go", "nothing was published"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		for _, never := range []string{"==> checksums signature", "==> image signatures", "==> copy images"} {
			if strings.Contains(out, never) {
				t.Errorf("after a failed scan the release went on to %q:\n%s", never, out)
			}
		}
		target.requireEmpty(t, crane)
		requireNoGitHubRelease(t, gh)
	})

	git(t, clone, "rm", "--quiet", "-r", "internal/leak")
	commit("e2e: the token removed")

	t.Run("a verify failure leaves nothing in the target registry", func(t *testing.T) {
		out := timed("publishing release failing verify", func() string {
			return mageFails(t, clone, append(env, "VERIFY_KEY="+other.Key), "release")
		})
		for _, want := range []string{"==> scan", "==> image SBOM attestations", "==> verify", "release.json: signature does not verify", "nothing was published"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "==> copy images") {
			t.Errorf("images were copied after verify failed:\n%s", out)
		}
		target.requireEmpty(t, crane)
		requireNoGitHubRelease(t, gh)
	})

	out := timed("publishing release", func() string { return mage(t, clone, env, "release") })
	for _, want := range []string{
		"Release " + version + ": PUBLISHED", "GitHub release of slipway-dev/slipway", "not latest: a pre-release",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "NOT RUN") {
		t.Errorf("a publishing release left something NOT RUN:\n%s", out)
	}
	// Signed after the scan; copied, verified there, and only then tagged; public last.
	last := -1
	for _, stage := range []string{"scan", "checksums signature", "image signatures", "image SBOM attestations", "verify",
		"copy images", "verify copied images", "GitHub release: draft", "image tags", "contents (published)",
		"verify (published)", "GitHub release: public"} {
		i := strings.Index(out, "==> "+stage)
		if i < last {
			t.Fatalf("stage %q is missing or out of order:\n%s", stage, out)
		}
		last = i
	}
	dist := filepath.Join(clone, "dist")
	imgs, err := release.ReadImages(dist)
	if err != nil || len(imgs) != 1 || imgs[0].Repo != target.addr+"/slipway" {
		t.Fatalf("dist/ must name the published image: %+v, %v", imgs, err)
	}
	ref := imgs[0].Repo + "@" + imgs[0].Digest

	t.Run("the GitHub release is public with every verified file, release.json last", func(t *testing.T) {
		if created, draft := gh.State(); !created || draft {
			t.Fatalf("GitHub release created=%v draft=%v", created, draft)
		}
		assets, order := gh.Assets()
		c, err := artifact.ReadContents(dist)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, f := range c.Files {
			want = append(want, f.Name)
		}
		want = append(want, artifact.ContentsFile, artifact.ContentsFile+artifact.BundleSuffix)
		if got := strings.Join(order, " "); !strings.HasSuffix(got, artifact.ContentsFile+" "+artifact.ContentsFile+artifact.BundleSuffix) || len(order) != len(want) {
			t.Errorf("uploaded %s\nwant %s, release.json and its bundle last", got, strings.Join(want, " "))
		}
		for _, name := range want {
			if !bytes.Equal(assets[name], read(t, filepath.Join(dist, name))) {
				t.Errorf("the uploaded %s (%d bytes) is not dist/'s", name, len(assets[name]))
			}
		}
	})

	t.Run("the target holds the index by digest, tagged with the version only", func(t *testing.T) {
		got := craneOut(t, crane, "digest", imgs[0].Repo+":"+version)
		if got != imgs[0].Digest {
			t.Fatalf("%s:%s = %s, want %s", imgs[0].Repo, version, got, imgs[0].Digest)
		}
		tags := craneOut(t, crane, "ls", imgs[0].Repo)
		if strings.Contains(tags, "latest") {
			t.Fatalf("a pre-release moved latest: %s", tags)
		}
	})

	t.Run("signature and SBOM attestations verify in the target, with our key only", func(t *testing.T) {
		if err := ours.VerifyImage(ctx, ref); err != nil {
			t.Fatal(err)
		}
		if err := other.VerifyImage(ctx, ref); err == nil {
			t.Fatal("the published image verifies against another key")
		}
		platforms, err := release.IndexPlatforms(ctx, crane, ref)
		if err != nil || len(platforms) != 2 {
			t.Fatalf("platforms of %s: %v, %v", ref, platforms, err)
		}
		for _, p := range platforms {
			if err := ours.VerifyAttestation(ctx, imgs[0].Repo+"@"+p.Digest, artifact.SBOMType); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("mage verify checks what was published", func(t *testing.T) {
		out := mage(t, clone, env, "verify")
		if !strings.Contains(out, "OK: image "+ref) {
			t.Fatalf("verify did not check the published image %s:\n%s", ref, out)
		}
	})

	t.Run("the target really needs its CA and a login", func(t *testing.T) {
		anonymous := exec.Command(crane, "ls", imgs[0].Repo)
		anonymous.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
		if out, err := anonymous.CombinedOutput(); err == nil || !strings.Contains(string(out), "UNAUTHORIZED") {
			t.Errorf("without a login: %v\n%s", err, out)
		}
		untrusted := exec.Command(crane, "ls", imgs[0].Repo)
		untrusted.Env = append(os.Environ(), "SSL_CERT_FILE="+systemCAs(t))
		if out, err := untrusted.CombinedOutput(); err == nil {
			t.Errorf("the target answered without its CA:\n%s", out)
		}
	})
}

// targetRegistry is a registry like a real one: TLS with a certificate from a CA of the test's
// own, and a login (htpasswd, bcrypt) for everything.
type targetRegistry struct {
	addr         string // 127.0.0.1:port
	caBundle     string // the system CAs and the test CA, for SSL_CERT_FILE
	dockerConfig string // a directory with config.json holding the login, for DOCKER_CONFIG
}

func startTargetRegistry(t *testing.T) targetRegistry {
	t.Helper()
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	caPEM := testCertificates(t, dir)
	r := targetRegistry{addr: addr, caBundle: filepath.Join(dir, "ca-bundle.pem"), dockerConfig: filepath.Join(dir, "docker")}
	write(t, r.caBundle, string(read(t, systemCAs(t)))+"\n"+string(caPEM))

	const user, password = "slipway-e2e", "registry-password"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "htpasswd"), user+":"+string(hash)+"\n")
	auth := map[string]any{"auths": map[string]any{addr: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))}}}
	data, err := json.Marshal(auth)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(r.dockerConfig, "config.json"), string(data))

	write(t, filepath.Join(dir, "config.yml"), fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %[1]s/data
  delete:
    enabled: true
http:
  addr: %[2]s
  tls:
    certificate: %[1]s/server.pem
    key: %[1]s/server.key
auth:
  htpasswd:
    realm: slipway-e2e
    path: %[1]s/htpasswd
`, dir, addr))
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(toolstest.Path(t, "registry"), "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})

	// Ready when it answers /v2/ over TLS with the test CA, asking for the login.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := client.Get("https://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return r
			}
			err = fmt.Errorf("status %s, want 401", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the target registry on %s is not ready: %v\n%s", addr, err, read(t, filepath.Join(dir, "registry.log")))
		}
	}
}

// requireNoGitHubRelease fails unless GitHub was only asked whether the tag is released.
func requireNoGitHubRelease(t *testing.T, gh *githubtest.Server) {
	t.Helper()
	for _, c := range gh.Calls() {
		if !strings.HasPrefix(c, "GET ") {
			t.Fatalf("GitHub was written to after a failed release: %v", gh.Calls())
		}
	}
}

// requireEmpty fails unless the registry holds no repository at all: no tag and no manifest.
func (r targetRegistry) requireEmpty(t *testing.T, crane string) {
	t.Helper()
	if repos := craneOut(t, crane, "catalog", r.addr); repos != "" {
		t.Fatalf("the target registry holds %q after a failed release", repos)
	}
}

// testCertificates writes a CA and a server certificate for 127.0.0.1 and localhost that it
// signed (server.pem, server.key), and returns the CA certificate (PEM).
func testCertificates(t *testing.T, dir string) []byte {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "slipway e2e test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "server.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	write(t, filepath.Join(dir, "server.key"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// systemCAs is this machine's CA bundle: the go command still reaches the module proxy with
// SSL_CERT_FILE replacing it.
func systemCAs(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no system CA bundle to extend with the test CA")
	return ""
}

// emptyVulnDB is a Go vulnerability database with no advisory, in vuln.go.dev's layout:
// govulncheck runs against it and finds nothing.
func emptyVulnDB(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "index", "db.json"), `{"modified":"2026-11-01T00:00:00Z"}`)
	write(t, filepath.Join(dir, "index", "modules.json"), `[]`)
	return "file://" + dir
}

func craneOut(t *testing.T, crane string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(crane, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("crane %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

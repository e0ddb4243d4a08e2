package release

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/provenance"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

func TestVerifierFrom(t *testing.T) {
	reset := func() {
		for _, k := range []string{"VERIFY_KEY", "COSIGN_KEY", "VERIFY_CERT_IDENTITY", "VERIFY_CERT_ISSUER",
			"GITHUB_WORKFLOW_REF", "GITHUB_SERVER_URL", "ACTIONS_ID_TOKEN_REQUEST_URL"} {
			t.Setenv(k, "")
		}
	}

	reset()
	v, _ := VerifierFrom(settings.Current(), "/src", "cosign")
	if v.Key != filepath.Join("/src", ".slipway", "cosign.pub") {
		t.Errorf("default: key %q, want the project-local public key", v.Key)
	}

	reset()
	t.Setenv("COSIGN_KEY", "/secrets/cosign.key") // a file: its public half is not derivable here
	t.Setenv("VERIFY_KEY", "/keys/release.pub")
	if v, _ := VerifierFrom(settings.Current(), "/src", "cosign"); v.Key != "/keys/release.pub" {
		t.Errorf("VERIFY_KEY: key %q", v.Key)
	}

	reset()
	t.Setenv("COSIGN_KEY", "awskms:///alias/release")
	if v, _ := VerifierFrom(settings.Current(), "/src", "cosign"); v.Key != "awskms:///alias/release" {
		t.Errorf("KMS COSIGN_KEY: key %q", v.Key)
	}

	reset()
	t.Setenv("GITHUB_SERVER_URL", "https://github.com")
	t.Setenv("GITHUB_WORKFLOW_REF", "acme/widget/.github/workflows/release.yml@refs/tags/v1.2.3")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "https://token.example")
	v, _ = VerifierFrom(settings.Current(), "/src", "cosign")
	if v.Key != "" || v.CertIdentity != "https://github.com/acme/widget/.github/workflows/release.yml@refs/tags/v1.2.3" ||
		v.CertIssuer != GitHubIssuer {
		t.Errorf("in the release workflow: %+v", v)
	}

	// An explicit identity wins over the workflow's own, and half an identity fails Check.
	t.Setenv("VERIFY_CERT_IDENTITY", "https://github.com/acme/widget/.github/workflows/release.yml@refs/tags/v1.0.0")
	v, _ = VerifierFrom(settings.Current(), "/src", "cosign")
	if err := v.Check(); err == nil {
		t.Errorf("identity without issuer passed Check: %+v", v)
	}
}

// VERIFY_TRUSTED_ROOT reaches every cosign command line, with a key or keyless.
func TestVerifierFromTakesATrustedRoot(t *testing.T) {
	for _, k := range []string{"VERIFY_KEY", "COSIGN_KEY", "GITHUB_WORKFLOW_REF", "ACTIONS_ID_TOKEN_REQUEST_URL"} {
		t.Setenv(k, "")
	}
	t.Setenv("VERIFY_CERT_IDENTITY", "https://github.com/acme/widget/.github/workflows/release.yml@refs/tags/v1.2.3")
	t.Setenv("VERIFY_CERT_ISSUER", GitHubIssuer)
	t.Setenv(TrustedRootEnv, "/media/usb/trusted_root.json")
	v, trust := VerifierFrom(settings.Current(), "/src", "cosign")
	if v.TrustedRoot != "/media/usb/trusted_root.json" || !strings.Contains(trust, "trusted root /media/usb/trusted_root.json (VERIFY_TRUSTED_ROOT)") {
		t.Fatalf("verifier %+v, %q", v, trust)
	}
	if !slices.Contains(v.BlobArgs("f", "b"), "--trusted-root=/media/usb/trusted_root.json") {
		t.Fatalf("the trusted root is not passed to cosign: %q", v.BlobArgs("f", "b"))
	}
}

// What the provenance must say comes from the settings, else from the signer's identity, else
// from this checkout and machine, and each source is named.
func TestExpectationFrom(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "go.mod"), "module github.com/acme/widget\n\ngo 1.26\n")
	reset := func() {
		for _, k := range []string{RepositoryEnv, CommitEnv, BuilderEnv, "GITHUB_ACTIONS"} {
			t.Setenv(k, "")
		}
	}
	local := sign.Verifier{Key: "cosign.pub"}

	reset()
	if _, _, err := ExpectationFrom(ctx, settings.Current(), root, local); err == nil || !strings.Contains(err.Error(), root+" is not a git checkout with a commit: set VERIFY_SOURCE_COMMIT") {
		t.Fatalf("outside a checkout: %v", err)
	}
	for _, args := range [][]string{{"init", "-q"}, {"-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "--allow-empty", "-m", "x"}} {
		if err := run.Run(ctx, "git", append([]string{"-C", root}, args...)...); err != nil {
			t.Fatal(err)
		}
	}
	head, err := run.Output(ctx, "git", "-C", root, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}

	e, from, err := ExpectationFrom(ctx, settings.Current(), root, local)
	want := Expectation{Repository: "https://github.com/acme/widget", Commit: head, BuilderID: provenance.LocalBuilder}
	if err != nil || e != want || from != "repository of this checkout, commit is this checkout's HEAD, builder is a local build" {
		t.Fatalf("a local release: %+v (%s), %v; want %+v", e, from, err, want)
	}

	// A downloaded keyless release: its workflow is the builder, its repository the source.
	keyless := sign.Verifier{CertIdentity: "https://github.com/acme/fork/.github/workflows/release.yml@refs/tags/v1.2.3", CertIssuer: GitHubIssuer}
	e, _, err = ExpectationFrom(ctx, settings.Current(), root, keyless)
	if err != nil || e.Repository != "https://github.com/acme/fork" || e.BuilderID != keyless.CertIdentity || e.Commit != head {
		t.Fatalf("a keyless release: %+v, %v", e, err)
	}

	// Inside the release workflow, signed with a key: the builder is this workflow.
	for k, v := range map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/widget",
		"GITHUB_WORKFLOW_REF": "acme/widget/.github/workflows/release.yml@refs/tags/v1.2.3", "GITHUB_RUN_ID": "1", "GITHUB_RUN_ATTEMPT": "1"} {
		t.Setenv(k, v)
	}
	if e, _, err = ExpectationFrom(ctx, settings.Current(), root, local); err != nil || e.BuilderID != "https://github.com/acme/widget/.github/workflows/release.yml@refs/tags/v1.2.3" {
		t.Fatalf("in CI: %+v, %v", e, err)
	}

	reset()
	t.Setenv(RepositoryEnv, "https://git.example/widget")
	t.Setenv(CommitEnv, strings.Repeat("a", 40))
	t.Setenv(BuilderEnv, "https://ci.example/builder")
	e, from, err = ExpectationFrom(ctx, settings.Current(), root, keyless)
	if err != nil || e != (Expectation{"https://git.example/widget", strings.Repeat("a", 40), "https://ci.example/builder"}) ||
		from != "repository from VERIFY_SOURCE_REPOSITORY, commit from VERIFY_SOURCE_COMMIT, builder from VERIFY_BUILDER_ID" {
		t.Fatalf("settings: %+v (%s), %v", e, from, err)
	}
}

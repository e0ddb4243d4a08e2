package release

import (
	"path/filepath"
	"testing"
)

func TestVerifierFromEnv(t *testing.T) {
	reset := func() {
		for _, k := range []string{"VERIFY_KEY", "COSIGN_KEY", "VERIFY_CERT_IDENTITY", "VERIFY_CERT_ISSUER",
			"GITHUB_WORKFLOW_REF", "GITHUB_SERVER_URL", "ACTIONS_ID_TOKEN_REQUEST_URL"} {
			t.Setenv(k, "")
		}
	}

	reset()
	v, _ := VerifierFromEnv("/src", "cosign")
	if v.Key != filepath.Join("/src", ".slipway", "cosign.pub") {
		t.Errorf("default: key %q, want the project-local public key", v.Key)
	}

	reset()
	t.Setenv("COSIGN_KEY", "/secrets/cosign.key") // a file: its public half is not derivable here
	t.Setenv("VERIFY_KEY", "/keys/release.pub")
	if v, _ := VerifierFromEnv("/src", "cosign"); v.Key != "/keys/release.pub" {
		t.Errorf("VERIFY_KEY: key %q", v.Key)
	}

	reset()
	t.Setenv("COSIGN_KEY", "awskms:///alias/release")
	if v, _ := VerifierFromEnv("/src", "cosign"); v.Key != "awskms:///alias/release" {
		t.Errorf("KMS COSIGN_KEY: key %q", v.Key)
	}

	reset()
	t.Setenv("GITHUB_SERVER_URL", "https://github.com")
	t.Setenv("GITHUB_WORKFLOW_REF", "acme/widget/.github/workflows/release.yml@refs/tags/v1.2.3")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "https://token.example")
	v, _ = VerifierFromEnv("/src", "cosign")
	if v.Key != "" || v.CertIdentity != "https://github.com/acme/widget/.github/workflows/release.yml@refs/tags/v1.2.3" ||
		v.CertIssuer != GitHubIssuer {
		t.Errorf("in the release workflow: %+v", v)
	}

	// An explicit identity wins over the workflow's own, and half an identity fails Check.
	t.Setenv("VERIFY_CERT_IDENTITY", "https://github.com/acme/widget/.github/workflows/release.yml@refs/tags/v1.0.0")
	v, _ = VerifierFromEnv("/src", "cosign")
	if err := v.Check(); err == nil {
		t.Errorf("identity without issuer passed Check: %+v", v)
	}
}

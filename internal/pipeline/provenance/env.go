package provenance

import (
	"crypto/rand"
	"fmt"
	"os"
	"strings"
)

// Run is who ran the build: runDetails of the provenance.
type Run struct {
	BuilderID    string // the workflow identity in GitHub Actions, else LocalBuilder
	InvocationID string // the Actions run attempt's URL, else a random urn:uuid
	Host         string // the machine's host name, for a local build only
}

// FromEnv reads Run from the environment through getenv (settings.Settings.Getenv outside
// tests). In GitHub Actions (GITHUB_ACTIONS=true) the builder is the workflow, named the way Fulcio names it in a keyless
// signature's certificate, and every variable that says so must be set: a CI build that cannot
// name its workflow is an error, never a local build.
func FromEnv(getenv func(string) string) (Run, error) {
	if getenv("GITHUB_ACTIONS") != "true" {
		host, err := os.Hostname()
		if err != nil {
			return Run{}, fmt.Errorf("provenance: naming the local builder: %w", err)
		}
		return Run{BuilderID: LocalBuilder, InvocationID: "urn:uuid:" + uuid(), Host: host}, nil
	}
	vars := map[string]string{}
	var missing []string
	for _, k := range []string{"GITHUB_SERVER_URL", "GITHUB_WORKFLOW_REF", "GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT"} {
		if vars[k] = getenv(k); vars[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return Run{}, fmt.Errorf("provenance: GITHUB_ACTIONS=true but %s unset: GitHub sets them in every workflow job; "+
			"unset GITHUB_ACTIONS to record a local build", strings.Join(missing, ", "))
	}
	server := strings.TrimSuffix(vars["GITHUB_SERVER_URL"], "/")
	return Run{
		// GITHUB_WORKFLOW_REF is OWNER/REPO/.github/workflows/release.yml@refs/tags/v1.2.3.
		BuilderID:    server + "/" + vars["GITHUB_WORKFLOW_REF"],
		InvocationID: fmt.Sprintf("%s/%s/actions/runs/%s/attempts/%s", server, vars["GITHUB_REPOSITORY"], vars["GITHUB_RUN_ID"], vars["GITHUB_RUN_ATTEMPT"]),
	}, nil
}

// uuid is a random (version 4) UUID.
func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// TestServiceRunsFromScratch runs the service in an image with nothing but its binary: no
// zoneinfo, no CA bundle, no /tmp, no shell. It must serve, answer its in-image healthcheck,
// show local time from its embedded time zone data, write nothing to the container's
// filesystem, and stop on `docker stop` with status 0.
func TestServiceRunsFromScratch(t *testing.T) {
	ctx := context.Background()
	root := projecttest.Root(t)
	dir := t.TempDir()
	if err := (run.Cmd{Dir: root, Env: []string{"CGO_ENABLED=0"}}).Run(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, "slipway"), "./cmd/slipway"); err != nil {
		t.Fatal(err)
	}
	dockerfile := "FROM scratch\nCOPY slipway /slipway\nUSER 65532:65532\nENTRYPOINT [\"/slipway\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	image := "slipway-e2e-scratch:" + filepath.Base(dir)
	if err := run.Run(ctx, "docker", "build", "--quiet", "--tag", image, dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run.Run(ctx, "docker", "rmi", "--force", image) })

	// Not --read-only: `docker diff` below is the stronger check, since a service that failed to
	// write would only log it. TZ is resolved from the binary's embedded time zone database.
	id, err := run.Output(ctx, "docker", "run", "--detach", "--cap-drop=ALL", "--security-opt=no-new-privileges",
		"--env", "TZ=America/New_York", "--env", "SLIPWAY_DRAIN_DELAY=0s", "--publish", "127.0.0.1::8080", image)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run.Run(ctx, "docker", "rm", "--force", id) })
	hostPort, err := run.Output(ctx, "docker", "port", id, "8080/tcp")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + strings.Fields(hostPort)[0]

	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			logs, _ := run.Output(ctx, "docker", "logs", id)
			t.Fatalf("no 200 from /readyz within 20s (last error %v); logs:\n%s", err, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get(url + "/v1/greet?name=Ada")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"message":"Hello, Ada!"}` {
		t.Fatalf("greet answered %d %s", resp.StatusCode, body)
	}
	// What Docker's HEALTHCHECK runs: no shell, no curl, SLIPWAY_ADDR unset (default :8080).
	if err := run.Run(ctx, "docker", "exec", id, "/slipway", "healthcheck"); err != nil {
		t.Fatalf("in-image healthcheck: %v", err)
	}

	if err := run.Run(ctx, "docker", "stop", id); err != nil {
		t.Fatal(err)
	}
	if code, err := run.Output(ctx, "docker", "inspect", "--format", "{{.State.ExitCode}}", id); err != nil || code != "0" {
		t.Fatalf("exit status after docker stop: %q %v, want 0", code, err)
	}
	if changed, err := run.Output(ctx, "docker", "diff", id); err != nil || changed != "" {
		t.Fatalf("the service wrote to the container's filesystem (%v):\n%s", err, changed)
	}
	logs, err := run.Output(ctx, "docker", "logs", id)
	if err != nil {
		t.Fatal(err)
	}
	var first struct{ Time string }
	if err := json.Unmarshal([]byte(strings.SplitN(logs, "\n", 2)[0]), &first); err != nil {
		t.Fatalf("first log line is not JSON: %v\n%s", err, logs)
	}
	// New York is UTC-5 or UTC-4; without time zone data Go would fall back to UTC ("Z").
	if !strings.HasSuffix(first.Time, "-05:00") && !strings.HasSuffix(first.Time, "-04:00") {
		t.Fatalf("log time %q is not New York time: no time zone data in the image?", first.Time)
	}
	if !strings.Contains(logs, `"msg":"stopped"`) {
		t.Fatalf("no clean stop in the logs:\n%s", logs)
	}
}

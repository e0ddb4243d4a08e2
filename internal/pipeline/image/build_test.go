package image

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
)

func TestWithoutCacheMounts(t *testing.T) {
	in := "RUN --mount=type=cache,target=/go/pkg/mod \\\n    go mod download\n" +
		"RUN --mount=type=cache,target=/go/pkg/mod \\\n    --mount=type=cache,target=/root/.cache/go-build \\\n    CGO_ENABLED=0 go build \\\n      -o /out/x .\n"
	want := "RUN go mod download\nRUN CGO_ENABLED=0 go build \\\n      -o /out/x .\n"
	got, err := WithoutCacheMounts(in)
	if err != nil || got != want {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
	if _, err := WithoutCacheMounts("FROM x\nRUN go build\n"); err == nil {
		t.Error("a Dockerfile without cache mounts was accepted")
	}
}

// The project's Dockerfile loses its cache mounts and nothing else.
func TestWithoutCacheMountsOnTheDockerfile(t *testing.T) {
	root := projecttest.Root(t)
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := WithoutCacheMounts(string(data))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "--mount=type=cache") {
		t.Errorf("a mount is left:\n%s", got)
	}
	// The module download keeps its secret mount (GOPROXY); only the cache mounts go.
	for _, want := range []string{"RUN --mount=type=secret,id=goproxy", "go mod download", "RUN CGO_ENABLED=0 GOOS=$TARGETOS", "COPY --from=build"} {
		if !strings.Contains(got, want) {
			t.Errorf("stripped Dockerfile lacks %q:\n%s", want, got)
		}
	}
}

// A secret's value reaches docker through its environment only, never its command line.
func TestBuildCommandKeepsSecretsOffTheCommandLine(t *testing.T) {
	const value = "https://user:t0ken@proxy.example.com/go"
	args, env := BuildOptions{Dockerfile: "Dockerfile", Context: ".", Platform: "linux/amd64", Tags: []string{"x:dev"},
		Args: map[string]string{"VERSION": "v1"}, Secrets: map[string]string{"goproxy": value}}.Command("/tmp/iid")
	if strings.Contains(strings.Join(args, " "), "t0ken") {
		t.Errorf("the secret is on the command line: %q", args)
	}
	if !slices.Contains(args, "id=goproxy,env=BUILD_SECRET_GOPROXY") || !slices.Contains(env, "BUILD_SECRET_GOPROXY="+value) {
		t.Errorf("the secret is not passed: args %q, env %q", args, env)
	}
	if !slices.Contains(args, "VERSION=v1") || args[len(args)-1] != "." {
		t.Errorf("build arguments or context missing: %q", args)
	}
}

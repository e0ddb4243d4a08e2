package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/docker"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

// PluginDir is where the Docker CLI looks for plugins: $DOCKER_CONFIG/cli-plugins, by default
// ~/.docker/cli-plugins.
func PluginDir() (string, error) {
	if d := settings.Current().DockerConfig; d != "" {
		return filepath.Join(d, "cli-plugins"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the Docker CLI plugin directory: %w (set DOCKER_CONFIG)", err)
	}
	return filepath.Join(home, ".docker", "cli-plugins"), nil
}

// InstallBuildx installs the pinned buildx binary as the Docker CLI plugin docker-buildx,
// replacing a different one. It reports the plugin's path and whether anything changed.
func InstallBuildx(bin string) (path string, changed bool, err error) {
	dir, err := PluginDir()
	if err != nil {
		return "", false, err
	}
	path = filepath.Join(dir, "docker-buildx")
	want, err := os.ReadFile(bin)
	if err != nil {
		return path, false, err
	}
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, want) {
		return path, false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return path, false, err
	}
	// Written beside the target under a name of its own and renamed: the CLI never sees half
	// a plugin, and two installs at once (parallel test packages) do not collide.
	f, err := os.CreateTemp(dir, "docker-buildx.*.tmp")
	if err != nil {
		return path, false, err
	}
	defer os.Remove(f.Name()) // nothing left after a successful rename
	_, err = f.Write(want)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o755)
	}
	if err != nil {
		return path, false, err
	}
	return path, true, os.Rename(f.Name(), path)
}

// CheckBuildx fails with ErrNoBuildx unless `docker buildx` works.
func CheckBuildx(ctx context.Context) error {
	if _, err := (docker.CLI{}).BuildxVersion(ctx); err != nil {
		return fmt.Errorf("%w\n(%w)", ErrNoBuildx, err)
	}
	return nil
}

// BuildOptions is one `docker buildx build` into the local engine.
type BuildOptions struct {
	Dockerfile string
	Context    string
	Platform   string // os/arch; the engine's BuildKit builds one platform per build
	Tags       []string
	Args       map[string]string // --build-arg
	// Secrets are BuildKit secrets by id, with their values: never on the command line or in
	// the image (docker reads each from its environment).
	Secrets  map[string]string
	Progress io.Writer // BuildKit's plain progress: which steps ran and which were CACHED
}

// Command is the `docker buildx build` command line (without "docker") that Build runs,
// writing the image ID to iidfile, and the environment it adds for the docker process: the
// secrets' values, which are never in args (`ps` shows those to every user of the machine).
func (o BuildOptions) Command(iidfile string) (args, env []string) {
	args = []string{"buildx", "build", "--builder", "default", "--load", "--progress", "plain",
		"--platform", o.Platform, "-f", o.Dockerfile, "--iidfile", iidfile}
	for _, t := range o.Tags {
		args = append(args, "-t", t)
	}
	for _, k := range slices.Sorted(maps.Keys(o.Args)) {
		args = append(args, "--build-arg", k+"="+o.Args[k])
	}
	for _, id := range slices.Sorted(maps.Keys(o.Secrets)) {
		v := "BUILD_SECRET_" + strings.ToUpper(id) // for the docker process only
		args = append(args, "--secret", "id="+id+",env="+v)
		env = append(env, v+"="+o.Secrets[id])
	}
	return append(args, o.Context), env
}

// cacheMount matches one `--mount=type=cache,...` of a RUN instruction, with the line
// continuation that follows it, so the RUN still reads as one command without it.
var cacheMount = regexp.MustCompile(`--mount=type=cache,\S*\s*(\\\n\s*)?`)

// WithoutCacheMounts is a Dockerfile with its BuildKit cache mounts removed and its other
// mounts (secrets) kept: the same build in which every RUN starts from what the image layers
// hold. The bench and the end-to-end test compare the two.
func WithoutCacheMounts(dockerfile string) (string, error) {
	if !cacheMount.MatchString(dockerfile) {
		return "", errors.New("the Dockerfile has no RUN --mount=type=cache: nothing to compare without them")
	}
	return cacheMount.ReplaceAllString(dockerfile, ""), nil
}

// Build builds and loads the image and returns its ID.
func Build(ctx context.Context, o BuildOptions) (string, error) {
	if err := CheckBuildx(ctx); err != nil {
		return "", err
	}
	iid, err := os.CreateTemp("", "slipway-iid-")
	if err != nil {
		return "", err
	}
	iid.Close()
	defer os.Remove(iid.Name())
	args, env := o.Command(iid.Name())
	if err := (docker.CLI{}).Build(ctx, env, o.Progress, args); err != nil {
		return "", fmt.Errorf("docker build of %s failed: %w", o.Dockerfile, err)
	}
	id, err := os.ReadFile(iid.Name())
	return strings.TrimSpace(string(id)), err
}

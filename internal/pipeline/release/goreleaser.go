package release

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
)

// ConfigFile is goreleaser's configuration at the root of the checkout.
const ConfigFile = ".goreleaser.yaml"

// grConfig is the part of .goreleaser.yaml the pipeline checks against its own definitions.
type grConfig struct {
	Builds []struct {
		ID      string   `yaml:"id"`
		Targets []string `yaml:"targets"`
		Flags   []string `yaml:"flags"`
		Ldflags []string `yaml:"ldflags"`
	} `yaml:"builds"`
	Kos []struct {
		Build     string   `yaml:"build"`
		Platforms []string `yaml:"platforms"`
		Tags      []string `yaml:"tags"`
	} `yaml:"kos"`
	Signs   []struct{ Args []string } `yaml:"signs"`
	Release struct {
		GitHub struct {
			Owner string `yaml:"owner"`
			Name  string `yaml:"name"`
		} `yaml:"github"`
	} `yaml:"release"`
}

func readConfig(root string) (grConfig, error) {
	var c grConfig
	data, err := os.ReadFile(filepath.Join(root, ConfigFile))
	if err != nil {
		return c, err
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%s: %w", ConfigFile, err)
	}
	if len(c.Builds) != 1 {
		return c, fmt.Errorf("%s: want exactly one build (the service), found %d", ConfigFile, len(c.Builds))
	}
	return c, nil
}

// CheckConfig proves .goreleaser.yaml builds what `mage build:all` builds: the same platforms
// (goreleaser cannot template its target list, so the list is written out and checked here),
// flags and ldflags from the environment only, and images only for platforms it builds.
func CheckConfig(root string, platforms []string) error {
	c, err := readConfig(root)
	if err != nil {
		return err
	}
	b := c.Builds[0]
	var got []string
	for _, t := range b.Targets {
		p, err := targetPlatform(t)
		if err != nil {
			return fmt.Errorf("%s: %w", ConfigFile, err)
		}
		got = append(got, p)
	}
	want := slices.Sorted(slices.Values(platforms))
	slices.Sort(got)
	if !slices.Equal(got, want) {
		return fmt.Errorf("%s builds %s but build:all builds %s: make builds[0].targets match "+
			"(goreleaser names them os_arch_v1, os_arm64_v8.0, os_arm_7)", ConfigFile, strings.Join(got, ","), strings.Join(want, ","))
	}
	if len(b.Flags) > 0 || len(b.Ldflags) != 1 || b.Ldflags[0] != "{{ .Env.SLIPWAY_LDFLAGS }}" {
		return fmt.Errorf("%s: build flags must come from mage (env GOFLAGS={{ .Env.SLIPWAY_GOFLAGS }}, "+
			"ldflags [\"{{ .Env.SLIPWAY_LDFLAGS }}\"], no flags:), or the release and build:all drift apart", ConfigFile)
	}
	for _, k := range c.Kos {
		if k.Build != b.ID {
			return fmt.Errorf("%s: kos must build from builds[0] (build: %s), so the images hold the archives' binaries", ConfigFile, b.ID)
		}
		for _, p := range k.Platforms {
			if !slices.Contains(got, p) {
				return fmt.Errorf("%s: kos platform %s is not built", ConfigFile, p)
			}
		}
	}
	return nil
}

// targetPlatform turns goreleaser's target name into a platform: linux_amd64_v1 -> linux/amd64,
// linux_arm64_v8.0 -> linux/arm64, linux_arm_7 -> linux/arm/v7.
func targetPlatform(t string) (string, error) {
	parts := strings.Split(t, "_")
	if len(parts) < 2 || len(parts) > 3 {
		return "", fmt.Errorf("target %q is not os_arch[_variant]", t)
	}
	p := parts[0] + "/" + parts[1]
	if len(parts) == 3 {
		switch {
		case parts[1] == "arm":
			p += "/v" + parts[2]
		case parts[1] == "amd64" && parts[2] == "v1", parts[1] == "arm64" && parts[2] == "v8.0":
			// Go's defaults (GOAMD64=v1, GOARM64=v8.0), which build:all uses too.
		default:
			return "", fmt.Errorf("target %q sets a non-default %s level that build:all does not build", t, parts[1])
		}
	}
	return p, nil
}

// runGoreleaser runs goreleaser and times its pipes: each "• name" line of a pipe starts a
// section that ends at the next one. The full log goes to
// .slipway/logs/goreleaser.log; a failure carries its tail.
func (f *flow) runGoreleaser(ctx context.Context, c *stage.Context, env, args []string) error {
	in := f.in
	logf, err := project.LogFile(in.root, "goreleaser")
	if err != nil {
		return err
	}
	defer logf.Close()
	logPath := logf.Name()
	config, err := renderConfig(in.root, env)
	if err != nil {
		return err
	}
	args = append(args, "--config", config)
	timer := &sectionTimer{out: c.Out, now: time.Now}
	fmt.Fprintf(c.Out, "    goreleaser %s (log: %s)\n", strings.Join(args, " "), logPath)
	err = run.Cmd{Dir: in.root, Env: env, Stdout: io.MultiWriter(logf, timer), Stderr: io.MultiWriter(logf, timer)}.
		Run(ctx, in.goreleaser, args...)
	timer.close()
	f.sections = timer.sections
	if err != nil {
		return fmt.Errorf("goreleaser failed (full log: %s): %w", logPath, err)
	}
	return nil
}

// koSettings are the settings of .goreleaser.yaml's kos that goreleaser v2.16 does not template
// (it does from v2.18, which needs Go 1.27): the release fills them into a rendered copy.
var koSettings = []string{"SLIPWAY_BASE_IMAGE", "SLIPWAY_IMAGE"}

// renderConfig writes .slipway/goreleaser.yaml: .goreleaser.yaml with koSettings' placeholders
// replaced by their values in env (left as they are when unset: a run without images). Every
// other template stays goreleaser's.
func renderConfig(root string, env []string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, ConfigFile))
	if err != nil {
		return "", err
	}
	text := string(data)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if slices.Contains(koSettings, k) && v != "" {
			text = strings.ReplaceAll(text, "{{ .Env."+k+" }}", v)
		}
	}
	out := filepath.Join(project.StateDir(root), "goreleaser.yaml")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	return out, os.WriteFile(out, []byte("# Rendered from "+ConfigFile+" by the release: do not edit.\n"+text), 0o644)
}

// sectionTimer turns goreleaser's log into timed sections as the lines arrive.
type sectionTimer struct {
	out      io.Writer
	now      func() time.Time
	lines    io.Writer // splits the log into lines for line()
	current  string
	since    time.Time
	sections []section
}

type section struct {
	name string
	d    time.Duration
}

// Sections worth a line of their own; the rest (defaults, git state, ...) take milliseconds.
var timedSections = []string{
	stage.GoreleaserBuild, stage.GoreleaserArchives, stage.GoreleaserSBOMs, stage.GoreleaserChecksums,
	stage.GoreleaserSign, stage.GoreleaserKo,
}

func (t *sectionTimer) Write(p []byte) (int, error) {
	if t.lines == nil {
		t.lines = run.Lines(t.line)
	}
	return t.lines.Write(p)
}

// ansi matches terminal colour codes: goreleaser colours its log where it guesses a CI
// terminal (CI=true), even into a pipe.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func (t *sectionTimer) line(line string) {
	line = ansi.ReplaceAllString(line, "")
	trimmed := strings.TrimLeft(line, " ")
	indent := len(line) - len(trimmed)
	name, ok := strings.CutPrefix(trimmed, "• ")
	name = strings.TrimSpace(name)
	timed := slices.Contains(timedSections, stage.Goreleaser+": "+name)
	// A pipe is a top-level line; under "publishing" the timed ones are one level deeper.
	if !ok || (indent != 2 && !timed) {
		return
	}
	t.close()
	if timed {
		t.current, t.since = name, t.now()
		fmt.Fprintf(t.out, "    %s\n", name)
	}
}

func (t *sectionTimer) close() {
	if t.current == "" {
		return
	}
	d := t.now().Sub(t.since)
	// A pipe may show twice (ko: once where it builds in a snapshot, once under publishing,
	// where it builds and pushes otherwise): one row with the time of both.
	if i := slices.IndexFunc(t.sections, func(s section) bool { return s.name == t.current }); i >= 0 {
		t.sections[i].d += d
	} else {
		t.sections = append(t.sections, section{t.current, d})
	}
	t.current = ""
}

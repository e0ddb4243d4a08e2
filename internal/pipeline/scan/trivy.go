package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// trivy runs the pinned Trivy binary against one cache.
type trivy struct {
	bin, cache, root string
}

// quiet are the flags every Trivy run passes so that it never calls home: no version check or
// announcements, no telemetry, no check-bundle download. The checks compiled into the pinned
// Trivy are used instead (it logs "Falling back to embedded checks"), which also keeps the gate
// reproducible: a new upstream check arrives with a Trivy update, in a reviewed pull request.
var quiet = []string{"--skip-version-check", "--disable-telemetry", "--skip-check-update"}

// ChecksDir holds the project's own misconfiguration checks (Rego), run beside Trivy's built-in
// ones: policies this project gates on harder than upstream does.
const ChecksDir = "internal/pipeline/scan/checks"

// target is one Trivy run: a subcommand and its arguments.
type target struct {
	name     string
	args     []string // subcommand, flags and the thing scanned
	scanners []string // shown in the table
	vuln     bool     // the vulnerability scanner belongs here (it runs when there is a database)
	file     string   // report file name, without extension
	category string   // code-scanning category: stable across releases
}

// targets lists the runs of the gate: the source tree, the configuration, each image.
func (t trivy) targets(o Options, withVuln bool) []target {
	vuln := func(rest ...string) []string {
		if withVuln {
			return append([]string{"vuln"}, rest...)
		}
		return rest
	}
	// Flags of the artifact scans (fs, image): no package-registry lookups (Maven Central);
	// findings the ignore list hides are listed in the report; with a prepared database the
	// scans never update it themselves, so every target sees the same one.
	artifact := []string{"--offline-scan", "--show-suppressed"}
	if withVuln {
		artifact = append(artifact, "--skip-db-update")
		if o.VEX != "" {
			artifact = append(artifact, "--vex", relative(o.Root, o.VEX))
		}
	}
	// Not ours to scan: pinned tools and build state. Tools are development-only modules that
	// never ship (Dependabot keeps them current); their dependency trees would drown the
	// service's own findings.
	skipDirs := []string{".slipway"}
	if rel, err := filepath.Rel(o.Root, o.OutDir); err == nil && !strings.HasPrefix(rel, "..") {
		skipDirs = append(skipDirs, filepath.ToSlash(filepath.Dir(rel)))
	}
	source := vuln("secret", "license")
	ts := []target{{
		name:     "source",
		scanners: source,
		vuln:     true,
		file:     "source",
		category: "source",
		args: slices.Concat([]string{"fs", "--scanners", strings.Join(source, ",")}, artifact, []string{
			"--skip-dirs", strings.Join(skipDirs, ","), "--skip-files", "tools/*/go.mod,tools/*/go.sum", "."}),
	}, {
		// Fixtures in testdata directories are wrong on purpose (other stages' tests need a bad
		// manifest); the secret scan above still reads them.
		name:     "config",
		scanners: []string{"misconfig"},
		file:     "config",
		category: "config",
		args: []string{"config", "--skip-dirs", strings.Join(append(skipDirs, "**/testdata"), ","),
			// Relative to the root, where Trivy runs: it splits list flags at commas, and a
			// checkout's absolute path may contain one.
			"--config-check", ChecksDir, "--check-namespaces", "user", "."},
	}}
	for _, img := range o.Images {
		scanners := vuln("secret")
		// The image's own config (user, healthcheck) is checked like a Dockerfile.
		args := slices.Concat([]string{"image", "--scanners", strings.Join(scanners, ","), "--image-config-scanners", "misconfig"},
			artifact, imageSource(img))
		ts = append(ts, target{
			name:     "image " + img,
			scanners: append(scanners, "misconfig"),
			vuln:     true,
			file:     "image-" + safeName(img),
			category: "image-" + safeName(repository(img)),
			args:     args,
		})
	}
	return ts
}

// relative names path from root, where Trivy runs, when it is inside: Trivy splits list flags
// (--vex) at commas, and a checkout's absolute path may contain one.
func relative(root, path string) string {
	if rel, err := filepath.Rel(root, path); err == nil && filepath.IsAbs(path) && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// imageSource picks where Trivy reads an image from, and never lets it fall through to a remote
// registry the user did not name (Trivy's default order ends with pulling from Docker Hub).
func imageSource(img string) []string {
	if st, err := os.Stat(img); err == nil {
		if st.IsDir() || strings.HasSuffix(img, ".tar") || strings.HasSuffix(img, ".tar.gz") {
			return []string{"--input", img}
		}
	}
	if host, _, ok := strings.Cut(img, "/"); ok && isLoopback(host) {
		return []string{"--image-src", "remote", img}
	}
	return []string{"--image-src", "docker", img}
}

func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var (
	unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
	digest      = regexp.MustCompile(`@sha256:([0-9a-f]{12})[0-9a-f]*$`)
)

// repository drops an image reference's tag and digest: slipway for 127.0.0.1:5000/slipway:v1.
func repository(img string) string {
	img, _, _ = strings.Cut(img, "@")
	if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
		img = img[:i]
	}
	return img
}

// safeName makes a report file name from an image: its last path element, a digest shortened.
func safeName(s string) string {
	s = digest.ReplaceAllString(filepath.Base(s), "-$1")
	return strings.Trim(unsafeChars.ReplaceAllString(s, "_"), "_.")
}

// scan runs one target: Trivy writes the JSON report, `trivy convert` the SARIF one from it.
func (t trivy) scan(ctx context.Context, tg target, dir string, failOn []string) (Target, []string, error) {
	jsonPath := filepath.Join(dir, tg.file+".json")
	sarifPath := filepath.Join(dir, tg.file+".sarif")
	args := slices.Concat(tg.args[:1], t.common(), []string{"--format", "json", "--output", jsonPath})
	if ignore := filepath.Join(t.root, IgnoreFile); exists(ignore) {
		args = append(args, "--ignorefile", ignore)
	}
	args = append(args, tg.args[1:]...)
	start := time.Now()
	if err := t.command(ctx, args...); err != nil {
		return Target{}, nil, fmt.Errorf("scanning %s: %w", tg.name, err)
	}
	elapsed := time.Since(start)
	if err := t.sarif(ctx, jsonPath, sarifPath); err != nil {
		return Target{}, nil, fmt.Errorf("writing the SARIF report of %s: %w", tg.name, err)
	}
	res, configs, err := judge(tg.name, jsonPath, failOn)
	res.Scanners, res.Duration, res.Reports = tg.scanners, elapsed, []string{tg.file + ".json", tg.file + ".sarif"}
	return res, configs, err
}

// judge reads one Trivy JSON report into a Target whose Failing are its findings at the gate's
// severities (what the ignore list hid is not among them), and the config files it recognized.
func judge(name, jsonPath string, failOn []string) (Target, []string, error) {
	p, err := parseReport(jsonPath)
	if err != nil {
		return Target{}, nil, err
	}
	res := Target{Name: name, Platform: p.platform, Findings: p.findings, Suppressed: p.suppressed}
	for _, f := range p.findings {
		if slices.Contains(failOn, f.Severity) {
			res.Failing = append(res.Failing, f)
		}
	}
	return res, p.configs, nil
}

// sarif converts a JSON report with `trivy convert`. Trivy's SARIF writer crashes on a result
// whose target is not a valid URI reference (aquasecurity/trivy#8154), which every image config
// result from a host:port registry is; those targets are escaped in a copy given to convert,
// and the JSON report stays as Trivy wrote it.
func (t trivy) sarif(ctx context.Context, jsonPath, sarifPath string) error {
	tmp, err := os.MkdirTemp("", "trivy-sarif-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	in := filepath.Join(tmp, "report.json")
	err = editJSON(jsonPath, in, "Results", func(result map[string]any) {
		if target, ok := result["Target"].(string); ok {
			if _, err := url.Parse(target); err != nil {
				result["Target"] = strings.ReplaceAll(target, ":", "%3A")
			}
		}
	})
	if err != nil {
		return err
	}
	return t.command(ctx, "convert", "--format", "sarif", "--output", sarifPath, in)
}

// common are the flags of every scan: the cache and no calling home.
func (t trivy) common() []string {
	return append([]string{"--cache-dir", t.cache}, quiet...)
}

// prepareDB makes sure the cache holds a vulnerability database, downloading it from repo
// (Trivy's defaults when empty) when it is missing or stale. Trivy itself decides staleness from
// the database's metadata, so a fresh one costs no network at all.
func (t trivy) prepareDB(ctx context.Context, repo string, offline bool) (Status, error) {
	args := slices.Concat([]string{"fs", "--cache-dir", t.cache, "--download-db-only", "--no-progress"}, quiet[:2])
	where := "Trivy's default registries (mirror.gcr.io, ghcr.io)"
	if repo != "" {
		args = append(args, "--db-repository", repo)
		where = repo
	}
	err := t.command(ctx, args...)
	if err == nil {
		// Trivy downloads only when the cached database is stale, so it may predate a change of
		// repository; the summary says how old the database scanned with is.
		return Status{Ran: true, Summary: "scanned with the database" + dbAge(t.cache)}, nil
	}
	if !offline {
		return Status{}, fmt.Errorf("trivy's vulnerability database is unreachable at %s: point SLIPWAY_TRIVY_DB at a registry that has it, "+
			"or set SLIPWAY_OFFLINE=1 to gate without the vulnerability scan (a publishing release refuses that): %w", where, err)
	}
	if age := dbAge(t.cache); age != "" {
		return Status{Ran: true, Summary: "scanned with the cached database" + age + " (offline: " + where + " unreachable)"}, nil
	}
	return Status{Summary: "NOT RUN (SLIPWAY_OFFLINE=1 and no database at " + where + ")"}, nil
}

// dbAge describes the cached database (" of 2026-11-20"), or "" when there is none.
func dbAge(cache string) string {
	data, err := os.ReadFile(filepath.Join(cache, "db", "metadata.json"))
	if err != nil {
		return ""
	}
	var m struct{ UpdatedAt time.Time }
	if json.Unmarshal(data, &m) != nil || m.UpdatedAt.IsZero() {
		return ""
	}
	return " of " + m.UpdatedAt.Format(time.DateOnly)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Package scan is the security gate `mage scan` runs and a release runs before publishing:
// Trivy over the source tree (vulnerabilities in Go modules, secrets, licenses), over the
// configuration (Dockerfiles, Kubernetes manifests, any other infrastructure code) and over the
// built images, with govulncheck's reachability-aware verdict beside it.
//
// The gate fails on a finding at SCAN_SEVERITY (default HIGH,CRITICAL), on an ignore-list entry
// without a reason or expiry or past its expiry, and on a config file Trivy did not recognize.
// Trivy never calls home: no version check, no telemetry, no check-bundle download (it uses the
// checks compiled into it). Its vulnerability database is the one thing it must download: from
// SLIPWAY_TRIVY_DB, else the image mirror (SLIPWAY_IMAGE_MIRROR, or offline the project's
// registry), else Trivy's default registries. Offline without a database, the vulnerability part
// is reported NOT RUN and everything else still gates; online, a database that cannot be
// reached is an error.
//
// A release calls Defaults, sets Images to what it pushed, calls Run, and before publishing
// Verdict.RequireVulnScan.
package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/quality"
)

// DefaultSeverity is what fails the gate unless SCAN_SEVERITY says otherwise.
const DefaultSeverity = "HIGH,CRITICAL"

// ConfigFiles are the files the config scan must recognize: if Trivy stops detecting one (it was
// renamed, or is not valid any more), the gate fails rather than silently checking nothing.
// A directory needs at least one recognized file inside.
// .github/base-images/Dockerfile is never built (it lists the base images for Dependabot), but
// Trivy run on a fork flags what it flags, so the gate checks it as well.
var ConfigFiles = []string{"Dockerfile", "Dockerfile.distroless", ".github/base-images/Dockerfile", "deploy/kubernetes"}

// Options configure one run of the gate. Defaults fills them for this checkout.
type Options struct {
	Root       string   // the checkout to scan
	Trivy      string   // the pinned trivy binary
	CacheDir   string   // Trivy's cache: database, layers (.slipway/trivy)
	OutDir     string   // reports (dist/scan), replaced as a whole when the gate completes
	Severities []string // failing severities
	Offline    bool     // SLIPWAY_OFFLINE: a missing database is NOT RUN instead of an error
	// DBRepository is the Trivy database artifact (e.g. 127.0.0.1:5000/aquasecurity/trivy-db:2);
	// empty means Trivy's own default registries.
	DBRepository string
	ConfigFiles  []string // relative to Root; see ConfigFiles
	// Images to scan: a reference in the local Docker engine (slipway:dev), a reference in a
	// loopback registry (127.0.0.1:5000/slipway@sha256:...), or a `docker save` tarball or OCI
	// layout directory.
	Images []string
	// VEX is an OpenVEX document Trivy applies to its vulnerability findings (a release's, made
	// from govulncheck's reachability): a not_affected statement suppresses the finding it is
	// about, an affected one leaves it failing. Empty: none.
	VEX string
	// Govulncheck runs govulncheck over the Go code and prints its findings to the writer
	// (Defaults sets GovulncheckIn(Root)); nil leaves it out, and VulnScanned is then false.
	Govulncheck func(context.Context, io.Writer) (Status, error)
	Now         func() time.Time // the clock for ignore-list expiry; time.Now when nil
	Out         io.Writer        // tables and the verdict line; nil discards them
}

// Status is the verdict of one vulnerability scanner.
type Status struct {
	Ran     bool   // it ran with a database
	Pass    bool   // it ran and found nothing that fails the gate
	Summary string // one line for the terminal: what it found, or why it did not run
}

// Target is the result of one Trivy run.
type Target struct {
	Name       string // source, config, image <ref>
	Platform   string // an image's platform, e.g. linux/amd64
	Scanners   []string
	Duration   time.Duration
	Findings   []Finding // everything Trivy reported
	Failing    []Finding // the findings at the gate's severities
	Suppressed []Finding // findings the ignore list hid
	Reports    []string  // JSON and SARIF, in OutDir
}

// Verdict is the outcome of the gate. Release reads VulnScanned: a publishing release refuses
// to go out when the vulnerability scan did not run.
type Verdict struct {
	Pass        bool
	Severities  []string
	TrivyVuln   Status // Trivy's vulnerability scanner (source and images)
	Govulncheck Status
	Targets     []Target
	Problems    []string // ignore-list and coverage problems; each fails the gate
	Reports     string   // the report directory
}

// VulnScanned reports whether both vulnerability scanners actually ran with a database.
func (v Verdict) VulnScanned() bool { return v.TrivyVuln.Ran && v.Govulncheck.Ran }

// RequireVulnScan is nil when both vulnerability scanners ran, and otherwise an error naming
// each one that did not and why: a publishing release calls it and refuses to go out.
func (v Verdict) RequireVulnScan() error {
	var missing []string
	if !v.TrivyVuln.Ran {
		missing = append(missing, "trivy: "+v.TrivyVuln.Summary)
	}
	if !v.Govulncheck.Ran {
		missing = append(missing, "govulncheck: "+v.Govulncheck.Summary)
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("a published release needs the vulnerability scan, which did not run (%s): give it its databases (%s, %s) or run online",
		strings.Join(missing, "; "), DBEnv, quality.VulnDBEnv)
}

// ErrFailed is wrapped by the error Run returns when the gate ran and failed.
var ErrFailed = errors.New("scan gate failed")

// Run runs the gate: every target, the reports, the terminal tables and the verdict line. The
// error wraps ErrFailed when the gate ran and failed, and is anything else when it could not run.
func Run(ctx context.Context, o Options) (Verdict, error) {
	g := newGate(o)
	if o.Trivy == "" || o.Root == "" || o.OutDir == "" || o.CacheDir == "" || len(o.Severities) == 0 {
		return g.v, errors.New("scan: Options need Root, Trivy, OutDir, CacheDir and Severities (use scan.Defaults)")
	}

	// Reports are written next to OutDir and moved in at the end (the verdict stage): a run that
	// stops half-way leaves no report directory, neither a partial one nor the last run's.
	for _, d := range []string{g.partial, o.OutDir} {
		if err := os.RemoveAll(d); err != nil {
			return g.v, err
		}
	}
	if err := os.MkdirAll(g.partial, 0o755); err != nil {
		return g.v, err
	}
	defer os.RemoveAll(g.partial)

	// The inner stages' progress goes nowhere: a release runs the gate as its one stage "scan",
	// and its output (which the end-to-end tests read) is the tables and the verdict line. They
	// read the gate's options, not the run's settings, so their context holds only the root.
	_, err := stage.Run(ctx, &stage.Context{Root: o.Root, Out: io.Discard}, g.stages())
	return g.v, err
}

// gate is one run of the gate: its stages fill v in turn.
type gate struct {
	o       Options
	t       trivy
	out     io.Writer
	now     func() time.Time
	partial string // the report directory until the verdict stage moves it to OutDir
	ignores []IgnoreEntry
	specs   []target // the Trivy runs, set by the database stage: their flags depend on it
	v       Verdict
}

func newGate(o Options) *gate {
	g := &gate{o: o, t: trivy{bin: o.Trivy, cache: o.CacheDir, root: o.Root}, out: o.Out, now: o.Now,
		partial: o.OutDir + ".partial", v: Verdict{Severities: o.Severities, Reports: o.OutDir}}
	if g.out == nil {
		g.out = io.Discard
	}
	if g.now == nil {
		g.now = time.Now
	}
	return g
}

// stages is the gate in order: the ignore list, the database, one stage per Trivy target,
// govulncheck, and the verdict.
func (g *gate) stages() []stage.Stage {
	list := []stage.Stage{
		{Name: "ignore list", Run: g.checkIgnoreList},
		{Name: "vulnerability database", Run: g.prepareDB},
	}
	// Whether the database is there changes the targets' flags, never their names or number.
	for i, spec := range g.t.targets(g.o, false) {
		list = append(list, stage.Stage{Name: spec.name, Run: func(ctx context.Context, _ *stage.Context) (string, error) {
			return "", g.scanTarget(ctx, g.specs[i])
		}})
	}
	return append(list,
		stage.Stage{Name: "govulncheck", Skip: g.withoutGovulncheck, Run: g.govulncheck},
		stage.Stage{Name: "verdict", Run: g.verdict})
}

func (g *gate) checkIgnoreList(context.Context, *stage.Context) (string, error) {
	ignores, problems, err := CheckIgnoreList(filepath.Join(g.o.Root, IgnoreFile), g.now())
	g.ignores, g.v.Problems = ignores, problems
	return "", err
}

func (g *gate) prepareDB(ctx context.Context, _ *stage.Context) (string, error) {
	var err error
	g.v.TrivyVuln, err = g.t.prepareDB(ctx, g.o.DBRepository, g.o.Offline)
	g.specs = g.t.targets(g.o, g.v.TrivyVuln.Ran)
	return "", err
}

// scanTarget is one Trivy run: its reports, its table, and for the config scan the coverage check.
func (g *gate) scanTarget(ctx context.Context, spec target) error {
	tg, configs, err := g.t.scan(ctx, spec, g.partial, g.o.Severities)
	if err != nil {
		return err
	}
	if spec.name == "config" {
		g.v.Problems = append(g.v.Problems, coverage(g.o.Root, g.o.ConfigFiles, configs)...)
	}
	notRun := ""
	if spec.vuln && !g.v.TrivyVuln.Ran {
		notRun = "vulnerability scan " + g.v.TrivyVuln.Summary
	}
	// One category per image platform: a release scans each platform's image of one
	// repository, and code scanning keeps one analysis per category.
	category := spec.category
	if tg.Platform != "" {
		category += "-" + strings.ReplaceAll(tg.Platform, "/", "-")
	}
	if err := finishSARIF(filepath.Join(g.partial, spec.file+".sarif"), category, notRun); err != nil {
		return err
	}
	g.v.Targets = append(g.v.Targets, tg)
	writeTable(g.out, tg, g.v.TrivyVuln)
	return nil
}

// notPartOfRun is why govulncheck is left out, as the verdict line shows it.
const notPartOfRun = "not part of this run"

// withoutGovulncheck skips govulncheck when the caller gave none, and records why in the verdict.
func (g *gate) withoutGovulncheck(*stage.Context) (string, bool) {
	if g.o.Govulncheck != nil {
		return "", false
	}
	g.v.Govulncheck = Status{Summary: notPartOfRun}
	return notPartOfRun, true
}

func (g *gate) govulncheck(ctx context.Context, _ *stage.Context) (string, error) {
	fmt.Fprintln(g.out)
	var err error
	g.v.Govulncheck, err = g.o.Govulncheck(ctx, g.out)
	if err != nil {
		return "", fmt.Errorf("govulncheck: %w", err)
	}
	return "", nil
}

// verdict decides, prints the problems and the verdict line, writes the verdict next to the
// reports and moves the report directory into place.
func (g *gate) verdict(context.Context, *stage.Context) (string, error) {
	v := &g.v
	v.Pass = v.passes()
	for _, p := range v.Problems {
		fmt.Fprintln(g.out, "  ✗", p)
	}
	if len(g.ignores) > 0 {
		fmt.Fprintf(g.out, "  %s: %d accepted entr%s\n", IgnoreFile, len(g.ignores), plural(len(g.ignores), "y", "ies"))
	}
	line := v.Line()
	fmt.Fprintln(g.out, line)

	if err := writeVerdict(g.partial, *v, line); err != nil {
		return "", err
	}
	if err := os.Rename(g.partial, g.o.OutDir); err != nil {
		return "", err
	}
	if !v.Pass {
		return "", fmt.Errorf("%w: %s%s", ErrFailed, line, v.causes())
	}
	return "", nil
}

// passes is the gate's decision: no ignore-list or coverage problem, no finding at the gate's
// severities in any target, and no vulnerable code called by govulncheck's account (when it ran).
func (v Verdict) passes() bool {
	pass := len(v.Problems) == 0 && (!v.Govulncheck.Ran || v.Govulncheck.Pass)
	for _, tg := range v.Targets {
		pass = pass && len(tg.Failing) == 0
	}
	return pass
}

// causes lists what failed the gate, so that the error alone names the module and advisory,
// the file and rule, or the ignore-list entry.
func (v Verdict) causes() string {
	var b strings.Builder
	n := 0
	add := func(s string) {
		if n < maxListed {
			b.WriteString("\n  " + s)
		} else if n == maxListed {
			b.WriteString("\n  ... (the rest in " + filepath.Join(v.Reports, "verdict.json") + ")")
		}
		n++
	}
	for _, p := range v.Problems {
		add(p)
	}
	for _, t := range v.Targets {
		for _, f := range t.Failing {
			add(t.Name + ": " + f.String())
		}
	}
	if v.Govulncheck.Ran && !v.Govulncheck.Pass {
		add("govulncheck: " + v.Govulncheck.Summary)
	}
	return b.String()
}

// Line is the one-line verdict.
func (v Verdict) Line() string {
	var b strings.Builder
	if v.Pass {
		b.WriteString("scan PASSED")
	} else {
		b.WriteString("scan FAILED")
	}
	var failing []string
	n := 0
	for _, t := range v.Targets {
		if len(t.Failing) > 0 {
			n += len(t.Failing)
			failing = append(failing, fmt.Sprintf("%s %d", t.Name, len(t.Failing)))
		}
	}
	sev := strings.Join(v.Severities, ",")
	if n > 0 {
		fmt.Fprintf(&b, ": %d finding%s at %s (%s)", n, plural(n, "", "s"), sev, strings.Join(failing, ", "))
	} else {
		fmt.Fprintf(&b, ": no findings at %s in %d target%s", sev, len(v.Targets), plural(len(v.Targets), "", "s"))
	}
	if len(v.Problems) > 0 {
		fmt.Fprintf(&b, "; %d ignore-list/coverage problem%s", len(v.Problems), plural(len(v.Problems), "", "s"))
	}
	fmt.Fprintf(&b, "; trivy vulnerabilities: %s; govulncheck: %s; reports: %s", v.TrivyVuln.Summary, v.Govulncheck.Summary, v.Reports)
	return b.String()
}

// coverage names each expected config file the config scan did not recognize.
func coverage(root string, expected, recognized []string) []string {
	var problems []string
	for _, e := range expected {
		st, err := os.Stat(filepath.Join(root, e))
		if err != nil {
			problems = append(problems, fmt.Sprintf("config scan: %s is missing (the gate checks it; restore it or remove it from scan.ConfigFiles)", e))
			continue
		}
		found := slices.ContainsFunc(recognized, func(r string) bool {
			r = filepath.ToSlash(r)
			return r == e || (st.IsDir() && strings.HasPrefix(r, e+"/"))
		})
		if !found {
			problems = append(problems, fmt.Sprintf("config scan: Trivy recognized no configuration in %s, so nothing there was checked", e))
		}
	}
	return problems
}

// finishSARIF gives each run of a SARIF report its own category (code scanning refuses several
// runs of one tool in one category, and the gate uploads one report per target) and, when the
// vulnerability scan did not run, a tool notification saying so: the place code-scanning tools
// show "this analysis was incomplete".
func finishSARIF(path, category, notRun string) error {
	return editJSON(path, path, "runs", func(run map[string]any) {
		run["automationDetails"] = map[string]any{"id": "slipway-scan/" + category + "/"}
		if notRun != "" {
			run["invocations"] = []any{map[string]any{
				"executionSuccessful": true,
				"toolExecutionNotifications": []any{map[string]any{
					"level":   "warning",
					"message": map[string]any{"text": notRun},
				}},
			}}
		}
	})
}

// editJSON reads the JSON document src, calls edit on each object in its top-level list named
// list (SARIF's runs, Trivy's Results), and writes the result to dst.
func editJSON(src, dst, list string, edit func(map[string]any)) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("reading %s: %w", src, err)
	}
	items, _ := doc[list].([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			edit(m)
		}
	}
	data, err = json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// writeVerdict writes verdict.json (for tools) and summary.txt (for people) next to the reports.
func writeVerdict(dir string, v Verdict, line string) error {
	type target struct {
		Name       string
		Platform   string `json:",omitempty"`
		Scanners   []string
		Seconds    float64
		Failing    []Finding
		Suppressed []Finding `json:",omitempty"`
		Reports    []string
	}
	doc := struct {
		Pass        bool
		Verdict     string
		Severities  []string
		TrivyVuln   Status
		Govulncheck Status
		VulnScanned bool
		Problems    []string
		Targets     []target
	}{v.Pass, line, v.Severities, v.TrivyVuln, v.Govulncheck, v.VulnScanned(), v.Problems, nil}
	for _, t := range v.Targets {
		doc.Targets = append(doc.Targets, target{t.Name, t.Platform, t.Scanners, t.Duration.Seconds(), t.Failing, t.Suppressed, t.Reports})
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "verdict.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(line+"\n"), 0o644)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// command is shared by every Trivy invocation: errors carry the command line and its output.
func (t trivy) command(ctx context.Context, args ...string) error {
	return run.Cmd{Dir: t.root}.Run(ctx, t.bin, args...)
}

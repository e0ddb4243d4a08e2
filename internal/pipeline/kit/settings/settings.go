// Package settings is every environment variable the pipeline reads, parsed in one place: the
// magefile loads them once per run, and the packages take what they need from Settings instead
// of reading the environment where they use it. Each field names its variable (env), its value
// when unset (default) and, in a comment, what it does; the README's environment table is
// checked against this struct.
package settings

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/slipway-dev/slipway/internal/envname"
)

// EnvPrefix starts the pipeline's own variables, and the service's (internal/config).
const EnvPrefix = "SLIPWAY_"

// Settings is what a user (or the platform the pipeline runs on) tells the pipeline.
type Settings struct {
	// ---- project ----
	Offline     bool   `env:"SLIPWAY_OFFLINE" default:"false"` // base images from stand-ins in the loopback registry; checks without a local database are NOT RUN
	Dist        string `env:"SLIPWAY_DIST"`                    // where builds and reports go, instead of dist/ at the root
	ImageMirror string `env:"SLIPWAY_IMAGE_MIRROR"`            // host/prefix to take upstream base images from
	NoWait      bool   `env:"NOWAIT" default:"false"`          // fail at once when another run holds .slipway/lock
	// Platforms is the build matrix (platform.ParseList).
	Platforms string `env:"PLATFORMS" default:"linux/amd64,linux/arm64,linux/arm/v7,darwin/amd64,darwin/arm64,windows/amd64,windows/arm64"`
	// ToolBins are the preinstalled tools to use instead of the pinned builds, by variable
	// (TRIVY_BIN=/usr/bin/trivy): every variable whose name ends in _BIN.
	ToolBins map[string]string `env:"<TOOL>_BIN"`
	// ShipStandIns lets a test release ship the offline stand-ins from a mirror; never for real use.
	ShipStandIns string `env:"SLIPWAY_TEST_ONLY_SHIP_STANDINS"`

	// ---- quality ----
	E2E    bool   `env:"E2E" default:"true"` // `mage test` runs the Docker-backed end-to-end tests: it is the README's and CI's "every test"
	VulnDB string `env:"SLIPWAY_VULNDB"`     // a local Go vulnerability database (file:///path or a directory)

	// ---- docker:run ----
	Port   int  `env:"PORT" default:"8080"`    // docker:run's host port on 127.0.0.1
	Detach bool `env:"DETACH" default:"false"` // docker:run leaves the container running

	// ---- registry ----
	RegistryAddr  string `env:"SLIPWAY_REGISTRY_ADDR" default:"127.0.0.1:5798"` // where the project's loopback registry listens
	RegistryOwner string `env:"SLIPWAY_REGISTRY_OWNER"`                         // the owner token of another checkout's registry, to share it

	// ---- scan ----
	ScanSeverity string `env:"SCAN_SEVERITY" default:"HIGH,CRITICAL"` // severities that fail the scan (scan.ParseSeverities)
	TrivyDB      string `env:"SLIPWAY_TRIVY_DB"`                      // Trivy's vulnerability database repository

	// ---- release ----
	Skip        string `env:"SKIP"`             // stages a local release skips (release.ParseSkip)
	Registry    string `env:"SLIPWAY_REGISTRY"` // a publishing release's registry, e.g. ghcr.io/acme
	GitHubToken string `env:"GITHUB_TOKEN"`     // a publishing release's GitHub release

	// ---- sign ----
	CosignKey      string `env:"COSIGN_KEY"`                       // a publishing release's signing key (file or KMS URI)
	CosignPassword bool   `env:"COSIGN_PASSWORD" set:"any"`        // whether the local key's password is given (cosign reads the value itself)
	SignTlog       string `env:"SLIPWAY_SIGN_TLOG" default:"true"` // true, or false: key signatures without transparency-log entries
	SigstoreToken  string `env:"SIGSTORE_ID_TOKEN"`                // an OIDC token for keyless signing outside GitHub Actions

	// ---- verify ----
	VerifyKey              string `env:"VERIFY_KEY"`               // the public key (or KMS URI) verify trusts
	VerifyCertIdentity     string `env:"VERIFY_CERT_IDENTITY"`     // the keyless signer's identity verify trusts
	VerifyCertIssuer       string `env:"VERIFY_CERT_ISSUER"`       // the keyless signer's OIDC issuer verify trusts
	VerifyTrustedRoot      string `env:"VERIFY_TRUSTED_ROOT"`      // a Sigstore trusted-root file, for keyless verify with no network
	VerifySourceRepository string `env:"VERIFY_SOURCE_REPOSITORY"` // the repository the provenance must name, instead of this checkout's
	VerifySourceCommit     string `env:"VERIFY_SOURCE_COMMIT"`     // the commit the provenance must name, instead of HEAD
	VerifyBuilderID        string `env:"VERIFY_BUILDER_ID"`        // the builder the provenance must name

	// ---- bench ----
	Bench              string `env:"BENCH"`                                      // the cases bench runs, empty or all for every case (bench.ParseCases)
	BenchReps          string `env:"BENCH_REPS" default:"5"`                     // interleaved repetitions of each contender (bench.ParseReps)
	BenchColdPlatforms string `env:"BENCH_COLD_PLATFORMS" default:"linux/amd64"` // the cold-cache build's matrix
	BenchWrite         *bool  `env:"BENCH_WRITE"`                                // rewrite BENCHMARKS.md's results; unset: only after a complete run

	// ---- deploy ----
	DeployOverlay string `env:"DEPLOY_OVERLAY" default:"deploy/kubernetes/overlays/example"` // deploy:render's kustomize overlay
	DeployImage   string `env:"DEPLOY_IMAGE"`                                                // the image to deploy, instead of the last release's

	// ---- from the platform: set by GitHub Actions, the OS or the Go toolchain, rarely by hand ----
	SourceDateEpoch          string `env:"SOURCE_DATE_EPOCH" from:"platform"`              // the build date, instead of the commit time
	GitHubActions            bool   `env:"GITHUB_ACTIONS" default:"false" from:"platform"` // running in GitHub Actions
	GitHubServerURL          string `env:"GITHUB_SERVER_URL" from:"platform"`              // https://github.com, or a GitHub Enterprise server
	GitHubAPIURL             string `env:"GITHUB_API_URL" from:"platform"`                 // GitHub's API, instead of https://api.github.com
	GitHubRepository         string `env:"GITHUB_REPOSITORY" from:"platform"`              // owner/repo of the workflow run
	GitHubWorkflowRef        string `env:"GITHUB_WORKFLOW_REF" from:"platform"`            // the workflow file and ref: the keyless signer's identity
	GitHubRunID              string `env:"GITHUB_RUN_ID" from:"platform"`                  // the workflow run, for the provenance's invocation
	GitHubRunAttempt         string `env:"GITHUB_RUN_ATTEMPT" from:"platform"`             // the run's attempt, likewise
	GitHubRefType            string `env:"GITHUB_REF_TYPE" from:"platform"`                // tag on a tag build
	ActionsIDTokenRequestURL string `env:"ACTIONS_ID_TOKEN_REQUEST_URL" from:"platform"`   // set when the job may mint an OIDC token
	DockerConfig             string `env:"DOCKER_CONFIG" from:"platform"`                  // Docker's configuration directory, instead of ~/.docker
	Path                     string `env:"PATH" from:"platform"`                           // where commands are found
}

// GoreleaserEnv are the variables with the prefix that the pipeline sets for the goreleaser it
// runs (.goreleaser.yaml reads them), never a user: known, so not reported as unknown.
var GoreleaserEnv = []string{
	EnvPrefix + "BASE_IMAGE",
	EnvPrefix + "CGO_ENABLED",
	EnvPrefix + "GOFLAGS",
	EnvPrefix + "IMAGE",
	EnvPrefix + "LDFLAGS",
	EnvPrefix + "PUBLISH",
}

// ServiceEnv are the service's own variables (internal/config, which the pipeline may not
// link): one environment often serves both, so they are known here too. A test keeps the list
// equal to config.ServiceEnv.
var ServiceEnv = []string{
	EnvPrefix + "ADDR",
	EnvPrefix + "ADMIN_ADDR",
	EnvPrefix + "ADMIN_PUBLIC",
	EnvPrefix + "LOG_LEVEL",
	EnvPrefix + "LOG_FORMAT",
	EnvPrefix + "SHUTDOWN_TIMEOUT",
	EnvPrefix + "DRAIN_DELAY",
	EnvPrefix + "READ_HEADER_TIMEOUT",
}

// toolSuffix ends the name of every tool override (TRIVY_BIN).
const toolSuffix = "_BIN"

// Var describes one field of Settings.
type Var struct {
	Name     string // the environment variable (for ToolBins, the pattern <TOOL>_BIN)
	Default  string // the value when unset, as written in the default tag
	Platform bool   // set by the platform the pipeline runs on, not by a user
	anyValue bool   // a bool that is true when the variable is set at all, even empty (set:"any")
	field    int
}

// Vars are the fields of Settings, in declaration order.
func Vars() []Var {
	t := reflect.TypeFor[Settings]()
	vars := make([]Var, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		vars = append(vars, Var{Name: f.Tag.Get("env"), Default: f.Tag.Get("default"), Platform: f.Tag.Get("from") == "platform",
			anyValue: f.Tag.Get("set") == "any", field: i})
	}
	return vars
}

// run holds the settings Init loaded for the whole run.
var run struct {
	sync.Mutex
	s      Settings
	loaded bool
}

// Init loads the settings from this process's environment once, for the whole run: the
// magefile calls it before any target, and every later Current returns what it loaded.
func Init() (Settings, error) {
	s, err := Load(os.Environ())
	run.Lock()
	defer run.Unlock()
	run.s, run.loaded = s, true
	return s, err
}

// Current is the run's settings for the kit's lowest layer, which no stage hands them to (tool
// overrides, the lock, the registry's address and owner, the Docker config directory, the key
// password check); stages take theirs from stage.Context.Settings. It is what Init loaded,
// or before Init (a package's own tests) the environment as it is now, a value that does not
// parse keeping its default (Init is where a bad value is reported).
func Current() Settings {
	run.Lock()
	defer run.Unlock()
	if run.loaded {
		return run.s
	}
	s, _ := Load(os.Environ())
	return s
}

// Load parses environ (KEY=value, as os.Environ gives it). An unset or empty variable takes its
// default. Every value that does not parse is reported, naming the variable and what it
// accepts; the others are still set, so an error about one setting never hides another's.
func Load(environ []string) (Settings, error) {
	env := map[string]string{}
	var s Settings
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
		if strings.HasSuffix(k, toolSuffix) && len(k) > len(toolSuffix) && v != "" {
			if s.ToolBins == nil {
				s.ToolBins = map[string]string{}
			}
			s.ToolBins[k] = v
		}
	}
	rv := reflect.ValueOf(&s).Elem()
	var errs []error
	for _, v := range Vars() {
		f := rv.Field(v.field)
		raw, set := env[v.Name]
		if v.anyValue {
			f.SetBool(set)
			continue
		}
		if strings.TrimSpace(raw) == "" {
			raw = v.Default
		}
		if err := parse(f, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", v.Name, env[v.Name], err))
		}
	}
	return s, errors.Join(errs...)
}

// parse sets f from raw (the value or the default).
func parse(f reflect.Value, raw string) error {
	raw = strings.TrimSpace(raw)
	switch f.Kind() {
	case reflect.String:
		f.SetString(raw)
	case reflect.Bool:
		b, err := parseBool(raw)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case reflect.Pointer: // *bool: nil when unset
		if raw == "" {
			return nil
		}
		b, err := parseBool(raw)
		if err != nil {
			return err
		}
		f.Set(reflect.ValueOf(&b))
	case reflect.Int: // PORT, the only number
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 65535 {
			return errors.New("not a port number (1-65535): set one, or unset it for the default")
		}
		f.SetInt(int64(n))
	case reflect.Map: // ToolBins, filled from the whole environment
	default:
		panic(fmt.Sprintf("settings: a field of kind %s", f.Kind()))
	}
	return nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, errors.New("want 1, true, yes or on, or 0, false, no or off (or unset it for the default)")
}

// Getenv is the value of the variable name as these settings hold it ("" for a name Settings
// does not have): for code that takes a lookup function, such as provenance.FromEnv.
func (s Settings) Getenv(name string) string {
	rv := reflect.ValueOf(s)
	for _, v := range Vars() {
		if v.Name != name {
			continue
		}
		switch f := rv.Field(v.field); f.Kind() {
		case reflect.String:
			return f.String()
		case reflect.Bool:
			return strconv.FormatBool(f.Bool())
		case reflect.Int: // PORT, the only number
			return strconv.Itoa(int(f.Int()))
		}
	}
	return ""
}

// Unknown is a variable with the prefix that nothing reads, most likely a typo, and the known
// name it is probably a misspelling of ("" when none is close).
type Unknown struct{ Name, Nearest string }

func (u Unknown) String() string {
	if u.Nearest == "" {
		return u.Name + " is not a setting of the pipeline or the service; unset it"
	}
	return u.Name + " is not a setting; did you mean " + u.Nearest + "?"
}

// UnknownEnv lists the variables in environ with the prefix that neither the pipeline, the
// goreleaser it runs, nor the service reads.
func UnknownEnv(environ []string) []Unknown {
	known := slices.Concat(GoreleaserEnv, ServiceEnv)
	for _, v := range Vars() {
		if strings.HasPrefix(v.Name, EnvPrefix) {
			known = append(known, v.Name)
		}
	}
	var unknown []Unknown
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix) && !slices.Contains(known, name) {
			unknown = append(unknown, Unknown{Name: name, Nearest: envname.Nearest(name, EnvPrefix, known)})
		}
	}
	return unknown
}

package settings

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/config"
)

func TestLoadDefaults(t *testing.T) {
	s, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Offline || !s.E2E || s.SignTlog != "true" || s.Port != 8080 || s.RegistryAddr != "127.0.0.1:5798" ||
		s.ScanSeverity != "HIGH,CRITICAL" || s.BenchWrite != nil || s.CosignPassword || s.ToolBins != nil {
		t.Fatalf("defaults: %+v", s)
	}
}

func TestLoadValues(t *testing.T) {
	s, err := Load([]string{"SLIPWAY_OFFLINE=yes", "E2E=0", "PORT=9090", "BENCH_WRITE=0", "COSIGN_PASSWORD=",
		"TRIVY_BIN=/usr/bin/trivy", "_BIN=x", "SCAN_SEVERITY= CRITICAL ", "SLIPWAY_SIGN_TLOG=false", "GITHUB_ACTIONS=true"})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Offline || s.E2E || s.Port != 9090 || s.BenchWrite == nil || *s.BenchWrite || !s.CosignPassword ||
		s.ScanSeverity != "CRITICAL" || s.SignTlog != "false" || !s.GitHubActions {
		t.Fatalf("values: %+v", s)
	}
	if want := map[string]string{"TRIVY_BIN": "/usr/bin/trivy"}; len(s.ToolBins) != 1 || s.ToolBins["TRIVY_BIN"] != want["TRIVY_BIN"] {
		t.Fatalf("ToolBins = %v, want %v", s.ToolBins, want)
	}
	if got := s.Getenv("GITHUB_ACTIONS"); got != "true" {
		t.Fatalf("Getenv(GITHUB_ACTIONS) = %q", got)
	}
}

func TestE2EIsOnUnlessTurnedOff(t *testing.T) {
	for v, want := range map[string]bool{"": true, "1": true, "true": true, "0": false, "false": false, "no": false} {
		if s, err := Load([]string{"E2E=" + v}); err != nil || s.E2E != want {
			t.Errorf("E2E=%q: E2E = %v (%v), want %v", v, s.E2E, err, want)
		}
	}
}

// Every value that does not parse is named, with what the variable accepts.
func TestLoadErrorsNameTheVariable(t *testing.T) {
	s, err := Load([]string{"SLIPWAY_OFFLINE=offline", "PORT=http", "DEPLOY_IMAGE=x"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`SLIPWAY_OFFLINE="offline": want 1, true`, `PORT="http": not a port number`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if s.DeployImage != "x" {
		t.Errorf("a bad setting hid another: %+v", s)
	}
}

func TestUnknownEnv(t *testing.T) {
	got := UnknownEnv([]string{"SLIPWAY_OFLINE=1", "SLIPWAY_OFFLINE=1", "SLIPWAY_LOG_LEVL=debug", "SLIPWAY_PUBLISH=true",
		"SLIPWAY_ADDR=:1", "SLIPWAY_X=1", "OFFLINE=1"})
	want := []Unknown{{"SLIPWAY_OFLINE", "SLIPWAY_OFFLINE"}, {"SLIPWAY_LOG_LEVL", "SLIPWAY_LOG_LEVEL"}, {"SLIPWAY_X", ""}}
	if !slices.Equal(got, want) {
		t.Fatalf("UnknownEnv = %v, want %v", got, want)
	}
	if s := got[0].String(); s != "SLIPWAY_OFLINE is not a setting; did you mean SLIPWAY_OFFLINE?" {
		t.Fatalf("message %q", s)
	}
}

// The service's variables are listed here because the pipeline may not link internal/config;
// the test may.
func TestServiceEnvIsTheService(t *testing.T) {
	if got, want := slices.Sorted(slices.Values(ServiceEnv)), slices.Sorted(slices.Values(config.ServiceEnv())); !slices.Equal(got, want) {
		t.Fatalf("ServiceEnv = %v, the service reads %v", got, want)
	}
}

// config.BuildEnv (what the service does not call unknown) is exactly the prefixed variables
// of Settings and the ones the pipeline sets for goreleaser.
func TestBuildEnvIsSettings(t *testing.T) {
	want := slices.Clone(GoreleaserEnv)
	for _, v := range Vars() {
		if strings.HasPrefix(v.Name, EnvPrefix) {
			want = append(want, v.Name)
		}
	}
	slices.Sort(want)
	if got := slices.Sorted(slices.Values(config.BuildEnv)); !slices.Equal(got, want) {
		t.Fatalf("config.BuildEnv = %v\nthe pipeline reads %v\nupdate config.BuildEnv", got, want)
	}
}

// The README's environment table lists every variable a user sets, with its default, and no
// variable Settings lacks.
func TestReadmeTableIsSettings(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "\n## Environment\n")
	if !ok {
		t.Fatal("README.md has no ## Environment section")
	}
	rows := map[string]string{} // variable: its row
	name := regexp.MustCompile("`([A-Z0-9_<>]+)(=[^`]*)?`")
	for line := range strings.Lines(table) {
		if strings.HasPrefix(line, "## ") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(line, "| `") {
			continue
		}
		for _, m := range name.FindAllStringSubmatch(cells[1], -1) {
			rows[m[1]] = line
		}
	}
	if len(rows) == 0 {
		t.Fatal("no variables found in the README's environment table")
	}
	vars := map[string]bool{}
	for _, v := range Vars() {
		vars[v.Name] = true
		row, listed := rows[v.Name]
		switch {
		case !listed && !v.Platform:
			t.Errorf("README.md's environment table does not list %s", v.Name)
		case listed && v.Default != "" && v.Default != "false" && !strings.Contains(row, v.Default):
			t.Errorf("README.md's row of %s does not say its default %s:\n%s", v.Name, v.Default, row)
		}
	}
	for n := range rows {
		if !vars[n] {
			t.Errorf("README.md's environment table lists %s, which is not a setting (internal/pipeline/kit/settings)", n)
		}
	}
}

// Before Init, Current follows the environment (the packages' tests set it); after, it is the
// environment Init saw.
func TestCurrent(t *testing.T) {
	t.Setenv("SLIPWAY_OFFLINE", "1")
	if !Current().Offline {
		t.Fatal("Current before Init does not read the environment")
	}
	t.Cleanup(func() { run.loaded = false })
	if _, err := Init(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLIPWAY_OFFLINE", "0")
	if !Current().Offline {
		t.Fatal("Current after Init read the environment again")
	}
}

package config

import (
	"bytes"
	"errors"
	"go/scanner"
	"go/token"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Parse("slipway", nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.AdminAddr != "" || c.LogLevel != slog.LevelInfo || c.LogFormat != "json" ||
		c.ShutdownTimeout != 10*time.Second || c.DrainDelay != 5*time.Second {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestFlagBeatsEnv(t *testing.T) {
	c, err := Parse("slipway", []string{"--addr=127.0.0.1:9000", "--log-format", "text"},
		env(map[string]string{"SLIPWAY_ADDR": ":7000", "SLIPWAY_LOG_LEVEL": "debug", "SLIPWAY_DRAIN_DELAY": "0s"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.LogLevel != slog.LevelDebug || c.LogFormat != "text" || c.DrainDelay != 0 {
		t.Fatalf("got %+v", c)
	}
}

func TestInvalidNamesSettingAndAcceptedValues(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{nil, map[string]string{"SLIPWAY_LOG_LEVEL": "loud"}, []string{"SLIPWAY_LOG_LEVEL", "debug, info, warn or error"}},
		{[]string{"--log-format=xml"}, nil, []string{"--log-format", "SLIPWAY_LOG_FORMAT", "json or text"}},
		{[]string{"--shutdown-timeout=soon"}, nil, []string{"--shutdown-timeout", "SLIPWAY_SHUTDOWN_TIMEOUT", "duration"}},
		{nil, map[string]string{"SLIPWAY_SHUTDOWN_TIMEOUT": "-1s"}, []string{"SLIPWAY_SHUTDOWN_TIMEOUT", "positive duration"}},
		{[]string{"--addr=8080"}, nil, []string{"--addr", "host:port"}},
		{[]string{"--nope"}, nil, []string{"-nope", "--help"}},
		{[]string{"extra"}, nil, []string{`"extra"`}},
	}
	for _, tc := range cases {
		_, err := Parse("slipway", tc.args, env(tc.env), &bytes.Buffer{})
		if err == nil {
			t.Errorf("%v %v: no error", tc.args, tc.env)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error is not one line: %q", err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v %v: %q lacks %q", tc.args, tc.env, err, w)
			}
		}
	}
}

func TestHelpListsEveryFlagWithEnvAndDefault(t *testing.T) {
	var out bytes.Buffer
	_, err := Parse("slipway", []string{"--help"}, env(nil), &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	if n := strings.Count(out.String(), "Usage:"); n != 1 {
		t.Errorf("usage printed %d times", n)
	}
	for _, w := range []string{"--addr", "env SLIPWAY_ADDR, default :8080", "SLIPWAY_ADMIN_ADDR", "SLIPWAY_LOG_LEVEL", "SLIPWAY_LOG_FORMAT",
		"SLIPWAY_SHUTDOWN_TIMEOUT, default 10s", "SLIPWAY_DRAIN_DELAY, default 5s", "SLIPWAY_READ_HEADER_TIMEOUT"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("help lacks %q:\n%s", w, out.String())
		}
	}
}

func TestPortsAreValidated(t *testing.T) {
	for _, addr := range []string{":99999", ":65536", ":-1", ":http", "127.0.0.1:", ":80x", ":+80", ":0x50"} {
		for _, tc := range []struct {
			args []string
			env  map[string]string
			want string
		}{
			{[]string{"--addr=" + addr}, nil, "SLIPWAY_ADDR"},
			{nil, map[string]string{"SLIPWAY_ADMIN_ADDR": strings.Replace(addr, ":", "127.0.0.1:", 1)}, "SLIPWAY_ADMIN_ADDR"},
		} {
			_, err := Parse("slipway", tc.args, env(tc.env), &bytes.Buffer{})
			if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "from 0 to 65535") {
				t.Errorf("%v %v: err = %v, want one line naming %s and the port range", tc.args, tc.env, err, tc.want)
			}
		}
	}
	for _, addr := range []string{":0", ":65535", "[::1]:80", "localhost:8080"} {
		if _, err := Parse("slipway", []string{"--addr", addr}, env(nil), &bytes.Buffer{}); err != nil {
			t.Errorf("--addr %s: %v", addr, err)
		}
	}
}

// The admin listener serves pprof: on a reachable address anyone can profile the process and
// read its command line, so that takes a second, explicit setting.
func TestAdminAddrIsLoopbackUnlessAllowed(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "10.1.2.3:6060", "[::]:6060", "example.com:6060", "127.0.0.1.nip.io:6060"} {
		_, err := Parse("slipway", nil, env(map[string]string{"SLIPWAY_ADMIN_ADDR": addr}), &bytes.Buffer{})
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "not loopback") ||
			!strings.Contains(err.Error(), "SLIPWAY_ADMIN_PUBLIC=1") || !strings.Contains(err.Error(), "--admin-public") {
			t.Errorf("admin address %s: err = %v, want a refusal naming the override", addr, err)
		}
		c, err := Parse("slipway", []string{"--admin-public"}, env(map[string]string{"SLIPWAY_ADMIN_ADDR": addr}), &bytes.Buffer{})
		if err != nil || c.AdminAddr != addr || !c.AdminPublic {
			t.Errorf("admin address %s with --admin-public: %+v, %v", addr, c, err)
		}
		if _, err := Parse("slipway", nil, env(map[string]string{"SLIPWAY_ADMIN_ADDR": addr, "SLIPWAY_ADMIN_PUBLIC": "1"}), &bytes.Buffer{}); err != nil {
			t.Errorf("admin address %s with SLIPWAY_ADMIN_PUBLIC=1: %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:6060", "127.0.0.2:6060", "[::1]:6060", "localhost:6060"} {
		if _, err := Parse("slipway", []string{"--admin-addr", addr}, env(nil), &bytes.Buffer{}); err != nil {
			t.Errorf("loopback admin address %s: %v", addr, err)
		}
	}
	_, err := Parse("slipway", nil, env(map[string]string{"SLIPWAY_ADMIN_PUBLIC": "yes"}), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "SLIPWAY_ADMIN_PUBLIC") || !strings.Contains(err.Error(), "true or false") {
		t.Errorf("SLIPWAY_ADMIN_PUBLIC=yes: %v", err)
	}
}

// Over its bound a duration is refused in one line naming the variable, the value and the bound;
// at the bound it is accepted.
func TestDurationsHaveUpperBounds(t *testing.T) {
	for _, tc := range []struct {
		name        string
		bound, over string
	}{
		{"SLIPWAY_SHUTDOWN_TIMEOUT", "5m", "5m1s"},
		{"SLIPWAY_DRAIN_DELAY", "1m", "1h"},
		{"SLIPWAY_READ_HEADER_TIMEOUT", "1m", "61s"},
	} {
		if _, err := Parse("slipway", nil, env(map[string]string{tc.name: tc.bound}), &bytes.Buffer{}); err != nil {
			t.Errorf("%s=%s (the bound): %v", tc.name, tc.bound, err)
		}
		_, err := Parse("slipway", nil, env(map[string]string{tc.name: tc.over}), &bytes.Buffer{})
		over, _ := time.ParseDuration(tc.over)
		bound, _ := time.ParseDuration(tc.bound)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%s: err = %v, want one line", tc.name, tc.over, err)
			continue
		}
		for _, w := range []string{tc.name, over.String(), "to " + bound.String()} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s=%s: %q lacks %q", tc.name, tc.over, err, w)
			}
		}
	}
	if MaxShutdownTimeout != 5*time.Minute || MaxDrainDelay != time.Minute || MaxReadHeaderTimeout != time.Minute {
		t.Errorf("bounds moved: %s %s %s", MaxShutdownTimeout, MaxDrainDelay, MaxReadHeaderTimeout)
	}
}

func TestUnknownEnvNamesTheVariableAndTheNearest(t *testing.T) {
	got := UnknownEnv([]string{
		"PATH=/bin", "SLIPWAY_ADDR=:8080", "SLIPWAY_OFFLINE=1", "SLIPWAY_REGISTRY=ghcr.io/acme", // read by the service or the build
		"SLIPWAY_LOG_LEVL=debug", "SLIPWAY_SHUTDOWNTIMEOUT=20s", "SLIPWAY_OFLINE=1", "SLIPWAY_PORT=9090", "SLIPWAY_X=1",
		"slipway_addr=:1", // not the prefix: variables are case-sensitive
	})
	want := []Unknown{
		{"SLIPWAY_LOG_LEVL", "SLIPWAY_LOG_LEVEL"},
		{"SLIPWAY_SHUTDOWNTIMEOUT", "SLIPWAY_SHUTDOWN_TIMEOUT"},
		{"SLIPWAY_OFLINE", "SLIPWAY_OFFLINE"},
		{"SLIPWAY_PORT", ""}, // nothing is close: no guess
		{"SLIPWAY_X", ""},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("UnknownEnv = %v\nwant %v", got, want)
	}
	if u := UnknownEnv(append(serviceEnvKV(), "SLIPWAY_ADMIN_PUBLIC=1")); len(u) != 0 {
		t.Fatalf("the service's own variables reported unknown: %v", u)
	}
}

func serviceEnvKV() []string {
	var kv []string
	for _, n := range ServiceEnv() {
		kv = append(kv, n+"=x")
	}
	return kv
}

// BuildEnv must list exactly the prefixed variables the build reads, found in the pipeline's Go
// sources (a string literal "SLIPWAY_X…", or EnvPrefix + "X") and in .goreleaser.yaml: a build
// variable missing here would be warned about at every start; a stale one would hide a typo.
func TestBuildEnvMatchesThePipeline(t *testing.T) {
	root := filepath.Join("..", "..")
	name := regexp.MustCompile(regexp.QuoteMeta(EnvPrefix) + `[A-Z0-9][A-Z0-9_]*`)
	suffix := regexp.MustCompile(`^[A-Z0-9][A-Z0-9_]*`)
	found := map[string]bool{}
	var files []string
	err := filepath.WalkDir(filepath.Join(root, "internal", "pipeline"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(files, filepath.Join(root, "magefile.go")) {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var s scanner.Scanner
		fset := token.NewFileSet()
		s.Init(fset.AddFile(p, -1, len(src)), src, nil, 0)
		var prev1, prev2 string // the two tokens before this one: `EnvPrefix` `+`
		for {
			_, tok, lit := s.Scan()
			if tok == token.EOF {
				break
			}
			if tok == token.STRING {
				v, err := strconv.Unquote(lit)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				for _, m := range name.FindAllString(v, -1) {
					found[m] = true
				}
				if prev2 == "EnvPrefix" && prev1 == "+" {
					found[EnvPrefix+suffix.FindString(v)] = true
				}
			}
			prev2, prev1 = prev1, tok.String()
			if tok == token.IDENT {
				prev1 = lit
			}
		}
	}
	goreleaser, err := os.ReadFile(filepath.Join(root, ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\.Env\.(`+name.String()+`)`).FindAllStringSubmatch(string(goreleaser), -1) {
		found[m[1]] = true
	}
	for _, n := range ServiceEnv() { // the pipeline also sets the service's own, to run it
		delete(found, n)
	}
	var got []string
	for n := range found {
		got = append(got, n)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(BuildEnv))
	if !slices.Equal(got, want) {
		t.Fatalf("the build reads %v\nconfig.BuildEnv lists %v\nupdate BuildEnv", got, want)
	}
	if len(got) < 10 {
		t.Fatalf("found only %v: the scan is broken", got)
	}
}

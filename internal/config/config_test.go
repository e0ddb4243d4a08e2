package config

import (
	"bytes"
	"errors"
	"log/slog"
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

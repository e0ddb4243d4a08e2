package runproof

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheckVersion(t *testing.T) {
	arm := armv7
	good := "slipway v1.2.3 (commit abc, commit date 2026-01-01T00:00:00Z, go1.26.8, linux/arm)"
	if err := checkVersion(good+"\n", arm, "v1.2.3"); err != nil {
		t.Errorf("good line: %v", err)
	}
	for _, tc := range []struct{ out, want string }{
		{"", "not `slipway <version>"},
		{"Usage: slipway [flags]", "not `slipway <version>"},
		{strings.Replace(good, "slipway", "other", 1), "not `slipway <version>"},
		{strings.Replace(good, "linux/arm)", "linux/arm64)", 1), "it runs as linux/arm64, want linux/arm"},
		{strings.Replace(good, "v1.2.3", "v1.2.4", 1), "it reports version v1.2.4, want v1.2.3"},
	} {
		if err := checkVersion(tc.out, arm, "v1.2.3"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error = %v, want %q", tc.out, err, tc.want)
		}
	}
}

func TestAnyNotRun(t *testing.T) {
	ok := Result{Kind: "binary"}
	failed := Result{Kind: "binary", Err: errors.New("broken")}
	notRun := Result{Kind: "image", NotRun: "no emulation"}
	if AnyNotRun(nil) || AnyNotRun([]Result{ok, failed}) {
		t.Error("NOT RUN without a result that did not run")
	}
	if !AnyNotRun([]Result{ok, notRun}) {
		t.Error("a result that did not run was missed")
	}
}

func TestReport(t *testing.T) {
	results := []Result{
		{Kind: "binary", Artifact: "dist/slipway_linux_amd64/slipway", Platform: amd64, Time: 12 * time.Millisecond},
		{Kind: "binary", Artifact: "dist/slipway_linux_arm64/slipway", Platform: arm64, Handler: "qemu-aarch64", Time: 412 * time.Millisecond},
		{Kind: "binary", Artifact: "dist/slipway_linux_arm_7/slipway", Platform: armv7, NotRun: "no emulation for linux/arm/v7: fix it"},
		{Kind: "image", Artifact: "r/slipway@sha256:1", Platform: arm64, Handler: "qemu-aarch64", Time: 1234 * time.Millisecond, Stop: 200 * time.Millisecond},
		{Kind: "image", Artifact: "r/slipway@sha256:2", Platform: amd64, Err: errors.New("never ready")},
		{Kind: "image", Artifact: "local:tag", NotRun: "Docker is not available"},
	}
	var b strings.Builder
	Report(&b, results)
	got := strings.Join(strings.Fields(b.String()), " ") // the columns' widths aside
	for _, want := range []string{
		"binary linux/amd64 native ok ran in 12ms",
		"binary linux/arm64 emulated (qemu-aarch64) ok ran in 412ms",
		"linux/arm/v7 - NOT RUN dist/slipway_linux_arm_7/slipway",
		"image linux/arm64 emulated (qemu-aarch64) ok ready in 1.23s, stopped in 200ms r/slipway@sha256:1",
		"image linux/amd64 native FAILED r/slipway@sha256:2",
		"image - - NOT RUN local:tag",
		"NOT RUN: binary linux/arm/v7 dist/slipway_linux_arm_7/slipway: no emulation for linux/arm/v7: fix it",
		"NOT RUN: 2 of 6 artifacts did not run",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

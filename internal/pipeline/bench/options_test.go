package bench

import (
	"reflect"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

func TestParseCases(t *testing.T) {
	for in, want := range map[string][]string{
		"":                Cases,
		"all":             Cases,
		"serve,build":     {"build", "serve"}, // the fixed order
		" start , size ,": {"size", "start"},
		"release":         {"release"},
	} {
		got, err := ParseCases(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseCases(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"serve,speed": `unknown case "speed"; choose from build,noop,size,rebuild,start,serve,release`,
		",":           "names no case",
	} {
		if _, err := ParseCases(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCases(%q) error %v, want one saying %q", in, err, want)
		}
	}
}

func TestParseReps(t *testing.T) {
	if n, err := ParseReps(""); n != DefaultReps || err != nil {
		t.Errorf("ParseReps(\"\") = %d, %v", n, err)
	}
	if n, err := ParseReps(" 7 "); n != 7 || err != nil {
		t.Errorf("ParseReps(7) = %d, %v", n, err)
	}
	for _, in := range []string{"0", "-1", "five", "2.5"} {
		if _, err := ParseReps(in); err == nil || !strings.Contains(err.Error(), "BENCH_REPS=") || !strings.Contains(err.Error(), "at least 1") {
			t.Errorf("ParseReps(%q) error %v, want one naming BENCH_REPS and the minimum", in, err)
		}
	}
}

func TestOptionsFrom(t *testing.T) {
	load := func(environ ...string) settings.Settings {
		s, err := settings.Load(environ)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, err := OptionsFrom("/r", load(CasesEnv+"=serve", RepsEnv+"=0")); err == nil || !strings.Contains(err.Error(), RepsEnv) {
		t.Errorf("BENCH_REPS=0 accepted: %v", err)
	}
	if _, err := OptionsFrom("/r", load(CasesEnv+"=serve", RepsEnv+"=2", ColdPlatformsEnv+"=linux/amd46")); err == nil || !strings.Contains(err.Error(), ColdPlatformsEnv) {
		t.Errorf("a bad BENCH_COLD_PLATFORMS accepted: %v", err)
	}
	o, err := OptionsFrom("/r", load(CasesEnv+"=serve", RepsEnv+"=2"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Reps != 2 || len(o.ColdPlatforms) != 1 || o.ColdPlatforms[0].String() != "linux/amd64" {
		t.Errorf("options %+v", o)
	}
	if got := o.Command(); got != "BENCH=serve BENCH_REPS=2 go run mage.go bench" {
		t.Errorf("Command() = %q", got)
	}
}

func TestShouldWriteOnlyCompleteRunsUnlessTold(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		o    Options
		want bool
	}{
		{Options{Cases: Cases, Reps: 5}, true},
		{Options{Cases: Cases, Reps: 1}, false},
		{Options{Cases: []string{"serve"}, Reps: 9}, false},
		{Options{Cases: []string{"serve"}, Reps: 1, Write: &yes}, true},
		{Options{Cases: Cases, Reps: 5, Write: &no}, false},
	} {
		if got := tc.o.ShouldWrite(); got != tc.want {
			t.Errorf("ShouldWrite(%d cases, %d reps, write %v) = %v", len(tc.o.Cases), tc.o.Reps, tc.o.Write, got)
		}
	}
}

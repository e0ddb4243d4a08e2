package platform

import (
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Platform
		wantErr string
	}{
		{in: "linux/amd64", want: Platform{OS: "linux", Arch: "amd64"}},
		{in: " linux/arm/v7 ", want: Platform{OS: "linux", Arch: "arm", Variant: "v7"}},
		{in: "windows/arm64", want: Platform{OS: "windows", Arch: "arm64"}},
		{in: "", wantErr: "want os/arch"},
		{in: "linux", wantErr: "want os/arch"},
		{in: "linux/", wantErr: "want os/arch"},
		{in: "linux/arm/v7/x", wantErr: "want os/arch"},
		{in: "plan9/amd64", wantErr: `unknown OS "plan9"`},
		{in: "linux/amd46", wantErr: `unsupported architecture "amd46"`},
		{in: "darwin/386", wantErr: `unsupported architecture "386" for darwin`},
		{in: "linux/arm", wantErr: "arm needs a variant"},
		{in: "linux/arm/v9", wantErr: `unknown arm variant "v9"`},
		{in: "linux/amd64/v3", wantErr: "only arm takes a variant"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestDerivedNames(t *testing.T) {
	tests := []struct {
		in                    string
		str, dir, binary, env string
	}{
		{"linux/amd64", "linux/amd64", "slipway_linux_amd64", "slipway", "GOOS=linux GOARCH=amd64"},
		{"linux/arm/v7", "linux/arm/v7", "slipway_linux_arm_7", "slipway", "GOOS=linux GOARCH=arm GOARM=7"},
		{"windows/amd64", "windows/amd64", "slipway_windows_amd64", "slipway.exe", "GOOS=windows GOARCH=amd64"},
		{"darwin/arm64", "darwin/arm64", "slipway_darwin_arm64", "slipway", "GOOS=darwin GOARCH=arm64"},
	}
	for _, tt := range tests {
		p, err := Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.String(); got != tt.str {
			t.Errorf("%s: String() = %q, want %q", tt.in, got, tt.str)
		}
		if got := p.DirName(); got != tt.dir {
			t.Errorf("%s: DirName() = %q, want %q", tt.in, got, tt.dir)
		}
		if got := p.BinaryName(); got != tt.binary {
			t.Errorf("%s: BinaryName() = %q, want %q", tt.in, got, tt.binary)
		}
		if got := strings.Join(p.Env(), " "); got != tt.env {
			t.Errorf("%s: Env() = %q, want %q", tt.in, got, tt.env)
		}
	}
}

func TestDefaultRoundTrips(t *testing.T) {
	if len(Default) != 7 {
		t.Fatalf("Default has %d platforms, want the 7 of the matrix", len(Default))
	}
	for _, p := range Default {
		got, err := Parse(p.String())
		if err != nil || got != p {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", p, got, err, p)
		}
	}
}

func TestFrom(t *testing.T) {
	from := func(v string) ([]Platform, error) {
		s, err := settings.Load([]string{EnvVar + "=" + v})
		if err != nil {
			t.Fatal(err)
		}
		return From(s)
	}
	got, err := from("")
	if err != nil || !slices.Equal(got, Default) {
		t.Errorf("unset: From() = %v, %v; want Default", got, err)
	}

	got, err = from("linux/amd64, linux/arm64,")
	want := []Platform{{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "arm64"}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("narrowed: From() = %v, %v; want %v", got, err, want)
	}

	for in, wantErr := range map[string]string{
		"linux/amd64,linux/amd64": "listed twice",
		"linux/amd64,bogus":       `PLATFORMS: platform "bogus"`,
		",":                       "no platforms listed",
	} {
		if _, err := from(in); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("PLATFORMS=%q: error = %v, want it to contain %q", in, err, wantErr)
		}
	}
}

func TestHost(t *testing.T) {
	h := Host()
	if h.OS != runtime.GOOS || h.Arch != runtime.GOARCH {
		t.Errorf("Host() = %v, want %s/%s", h, runtime.GOOS, runtime.GOARCH)
	}
	if _, err := Parse(h.String()); err != nil {
		t.Errorf("Host() %v does not parse: %v", h, err)
	}
}

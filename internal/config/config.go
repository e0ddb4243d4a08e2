// Package config reads the service's settings from flags and SLIPWAY_* environment variables.
//
// Precedence: flag, then environment, then default. Every setting is validated up front so a
// misconfigured service fails at start with one line naming the setting, never later under load.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/envname"
)

// EnvPrefix starts the environment name of every flag: --admin-addr is SLIPWAY_ADMIN_ADDR.
const EnvPrefix = "SLIPWAY_"

// Config is everything the service can be told.
type Config struct {
	Addr              string        // public listener
	AdminAddr         string        // pprof and a second /metrics; empty means off
	AdminPublic       bool          // allow AdminAddr off loopback
	LogLevel          slog.Level    //
	LogFormat         string        // json or text
	ShutdownTimeout   time.Duration // bound on waiting for in-flight requests
	DrainDelay        time.Duration // keep serving after readiness turns 503, for load balancers
	ReadHeaderTimeout time.Duration // slowloris guard
}

// Upper bounds on the durations. Past them a value is a slip (10m for 10s) rather than a choice:
// it would hold a replica in Terminating, or a half-open connection, for that long.
const (
	MaxShutdownTimeout   = 5 * time.Minute
	MaxDrainDelay        = time.Minute
	MaxReadHeaderTimeout = time.Minute
)

// durations are the duration settings' bounds, checked after parsing.
var durations = map[string]struct{ min, max time.Duration }{
	"shutdown-timeout":    {time.Millisecond, MaxShutdownTimeout},
	"drain-delay":         {0, MaxDrainDelay},
	"read-header-timeout": {time.Millisecond, MaxReadHeaderTimeout},
}

// ErrHelp is returned when --help was asked for; the usage has been written.
var ErrHelp = flag.ErrHelp

// Parse reads args (without the program name) and the environment through getenv.
// Usage and errors go to out. An error means exit status 2, except ErrHelp (status 0).
func Parse(name string, args []string, getenv func(string) string, out io.Writer) (Config, error) {
	c := Config{}
	var level, format string
	fs := flagSet(name, &c, &level, &format)
	fs.Usage = func() { usage(fs, name, out) }
	// The environment first, so that flags override it.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if envErr != nil {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("invalid %s=%q: %s", EnvName(f.Name), v, accepted(f.Name))
			}
		}
	})
	if envErr != nil {
		return c, envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // the flag package has printed the usage
			return c, ErrHelp
		}
		return c, flagError(err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q: settings are flags (see --help)", fs.Arg(0))
	}
	return c, c.finish(level, format)
}

// flagSet declares every setting, bound to c; the log level and format go through strings.
func flagSet(name string, c *Config, level, format *string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by the caller, in our own words
	fs.StringVar(&c.Addr, "addr", ":8080", "listen address for the API and health endpoints")
	fs.StringVar(&c.AdminAddr, "admin-addr", "", "listen address for pprof and metrics; empty disables it; loopback only, unless --admin-public")
	fs.BoolVar(&c.AdminPublic, "admin-public", false, "allow --admin-addr off loopback: anyone who reaches it can profile the process and read its command line")
	fs.StringVar(level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(format, "log-format", "json", "log format: json, or text for humans")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long in-flight requests may take to finish after draining, at most "+MaxShutdownTimeout.String())
	fs.DurationVar(&c.DrainDelay, "drain-delay", 5*time.Second, "how long to keep serving after readiness fails, before shutting down, at most "+MaxDrainDelay.String())
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", 5*time.Second, "how long a client may take to send its request headers, at most "+MaxReadHeaderTimeout.String())
	return fs
}

func (c *Config) finish(level, format string) error {
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil || !oneOf(strings.ToLower(level), "debug", "info", "warn", "error") {
		return fmt.Errorf("invalid log level %q (--log-level, %s): %s", level, EnvName("log-level"), accepted("log-level"))
	}
	c.LogFormat = strings.ToLower(format)
	if !oneOf(c.LogFormat, "json", "text") {
		return fmt.Errorf("invalid log format %q (--log-format, %s): %s", format, EnvName("log-format"), accepted("log-format"))
	}
	if err := checkAddr("addr", c.Addr); err != nil {
		return err
	}
	if c.AdminAddr != "" {
		if err := checkAddr("admin-addr", c.AdminAddr); err != nil {
			return err
		}
		if host, _, _ := net.SplitHostPort(c.AdminAddr); !c.AdminPublic && !loopback(host) {
			return fmt.Errorf("admin address %q (--admin-addr, %s) is not loopback, and it serves pprof: "+
				"use 127.0.0.1:PORT and reach it through a tunnel, or set --admin-public (%s=1) to expose it on purpose",
				c.AdminAddr, EnvName("admin-addr"), EnvName("admin-public"))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"shutdown-timeout", c.ShutdownTimeout}, {"drain-delay", c.DrainDelay}, {"read-header-timeout", c.ReadHeaderTimeout}} {
		if b := durations[d.name]; d.v < b.min || d.v > b.max {
			return fmt.Errorf("invalid %s %s (--%s, %s): %s", d.name, d.v, d.name, EnvName(d.name), accepted(d.name))
		}
	}
	return nil
}

// checkAddr wants host:port with a port number. net.Listen would also take a service name
// (":http" is port 80) or an empty port, both more likely slips than choices; 0, any free
// port, is a choice (tests make it).
func checkAddr(flagName, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q (--%s, %s): %s", addr, flagName, EnvName(flagName), accepted(flagName))
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("invalid port %q in address %q (--%s, %s): want a number from 0 to 65535 (0 picks a free port)",
			port, addr, flagName, EnvName(flagName))
	}
	return nil
}

// loopback reports whether host is only reachable from this machine. An empty host (":6060")
// is every interface; any other name could resolve anywhere.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// BuildEnv are the variables with the service's prefix that the build reads, not the service
// (internal/pipeline and .goreleaser.yaml): one environment often serves both, so the service
// does not call them unknown. TestBuildEnvMatchesThePipeline keeps the list in step with the
// pipeline's code, and internal/pipeline/settings' TestBuildEnvIsSettings with its Settings.
var BuildEnv = []string{
	EnvPrefix + "BASE_IMAGE",
	EnvPrefix + "CGO_ENABLED",
	EnvPrefix + "DIST",
	EnvPrefix + "GOFLAGS",
	EnvPrefix + "IMAGE",
	EnvPrefix + "IMAGE_MIRROR",
	EnvPrefix + "LDFLAGS",
	EnvPrefix + "OFFLINE",
	EnvPrefix + "PUBLISH",
	EnvPrefix + "REGISTRY",
	EnvPrefix + "REGISTRY_ADDR",
	EnvPrefix + "REGISTRY_OWNER",
	EnvPrefix + "SIGN_TLOG",
	EnvPrefix + "TEST_ONLY_SHIP_STANDINS",
	EnvPrefix + "TRIVY_DB",
	EnvPrefix + "VULNDB",
}

// Unknown is a variable with the service's prefix that nothing reads: most likely a typo, which
// would otherwise do nothing without a word. Nearest is the known variable it is probably a
// misspelling of, or empty when none is close.
type Unknown struct{ Name, Nearest string }

// UnknownEnv lists the variables in environ (KEY=value, as os.Environ gives them) that have
// the service's prefix but are neither a setting of the service nor one of BuildEnv.
func UnknownEnv(environ []string) []Unknown {
	all := append(ServiceEnv(), BuildEnv...)
	var unknown []Unknown
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || slices.Contains(all, name) {
			continue
		}
		u := Unknown{Name: name, Nearest: envname.Nearest(name, EnvPrefix, all)}
		unknown = append(unknown, u)
	}
	return unknown
}

// ServiceEnv is every variable the service reads, one per flag.
func ServiceEnv() []string {
	var c Config
	var level, format string
	var names []string
	flagSet("", &c, &level, &format).VisitAll(func(f *flag.Flag) { names = append(names, EnvName(f.Name)) })
	return names
}

// EnvName is the environment variable for a flag.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func accepted(flagName string) string {
	switch flagName {
	case "log-level":
		return "want debug, info, warn or error"
	case "log-format":
		return "want json or text"
	case "addr", "admin-addr":
		return "want host:port, for example :8080 or 127.0.0.1:9090"
	case "admin-public":
		return "want true or false (or 1 or 0)"
	}
	b := durations[flagName]
	if b.min == 0 {
		return fmt.Sprintf("want a duration from 0 to %s, for example 5s", b.max)
	}
	return fmt.Sprintf("want a positive duration up to %s, for example 10s or 500ms", b.max)
}

// flagError rewords the flag package's errors to name the setting and what it accepts.
func flagError(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, " for flag -"); i >= 0 { // `invalid value "x" for flag -name: ...`
		name := strings.SplitN(msg[i+len(" for flag -"):], ":", 2)[0]
		return fmt.Errorf("%s (--%s, %s): %s", msg[:i], name, EnvName(name), accepted(name))
	}
	return fmt.Errorf("%s (see --help)", msg)
}

func usage(fs *flag.FlagSet, name string, out io.Writer) {
	fmt.Fprintf(out, "Usage: %s [serve|healthcheck|version] [flags]\n\n", name)
	fmt.Fprintf(out, "Flags (each also read from its environment variable; a flag wins):\n")
	fs.VisitAll(func(f *flag.Flag) {
		def := f.DefValue
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(out, "  --%-20s %s\n  %-22s env %s, default %s\n", f.Name, f.Usage, "", EnvName(f.Name), def)
	})
}

func oneOf(s string, options ...string) bool {
	for _, o := range options {
		if s == o {
			return true
		}
	}
	return false
}

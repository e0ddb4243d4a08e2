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
	"strings"
	"time"
)

// EnvPrefix starts the environment name of every flag: --admin-addr is SLIPWAY_ADMIN_ADDR.
const EnvPrefix = "SLIPWAY_"

// Config is everything the service can be told.
type Config struct {
	Addr              string        // public listener
	AdminAddr         string        // pprof and a second /metrics; empty means off
	LogLevel          slog.Level    //
	LogFormat         string        // json or text
	ShutdownTimeout   time.Duration // bound on waiting for in-flight requests
	DrainDelay        time.Duration // keep serving after readiness turns 503, for load balancers
	ReadHeaderTimeout time.Duration // slowloris guard
}

// ErrHelp is returned when --help was asked for; the usage has been written.
var ErrHelp = flag.ErrHelp

// Parse reads args (without the program name) and the environment through getenv.
// Usage and errors go to out. An error means exit status 2, except ErrHelp (status 0).
func Parse(name string, args []string, getenv func(string) string, out io.Writer) (Config, error) {
	c := Config{}
	var level, format string
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by the caller, in our own words
	fs.StringVar(&c.Addr, "addr", ":8080", "listen address for the API and health endpoints")
	fs.StringVar(&c.AdminAddr, "admin-addr", "", "listen address for pprof and metrics; empty disables it (keep it on loopback)")
	fs.StringVar(&level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&format, "log-format", "json", "log format: json, or text for humans")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long in-flight requests may take to finish after draining")
	fs.DurationVar(&c.DrainDelay, "drain-delay", 5*time.Second, "how long to keep serving after readiness fails, before shutting down")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", 5*time.Second, "how long a client may take to send its request headers")

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

func (c *Config) finish(level, format string) error {
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil || !oneOf(strings.ToLower(level), "debug", "info", "warn", "error") {
		return fmt.Errorf("invalid log level %q (--log-level, %s): %s", level, EnvName("log-level"), accepted("log-level"))
	}
	c.LogFormat = strings.ToLower(format)
	if !oneOf(c.LogFormat, "json", "text") {
		return fmt.Errorf("invalid log format %q (--log-format, %s): %s", format, EnvName("log-format"), accepted("log-format"))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("invalid address %q (--addr, %s): %s", c.Addr, EnvName("addr"), accepted("addr"))
	}
	if c.AdminAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
			return fmt.Errorf("invalid address %q (--admin-addr, %s): %s", c.AdminAddr, EnvName("admin-addr"), accepted("admin-addr"))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{{"shutdown-timeout", c.ShutdownTimeout, time.Millisecond}, {"drain-delay", c.DrainDelay, 0}, {"read-header-timeout", c.ReadHeaderTimeout, time.Millisecond}} {
		if d.v < d.min {
			return fmt.Errorf("invalid %s %s (--%s, %s): %s", d.name, d.v, d.name, EnvName(d.name), accepted(d.name))
		}
	}
	return nil
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
	case "drain-delay":
		return "want a duration of zero or more, for example 5s"
	default:
		return "want a positive duration, for example 10s or 500ms"
	}
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

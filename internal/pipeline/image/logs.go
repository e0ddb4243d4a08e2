package image

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// NewLogWriter turns the service's JSON log lines into one readable line each:
//
//	{"time":"2026-11-23T09:00:00.123Z","level":"INFO","msg":"listening","addr":":8080"}
//	09:00:00.123 INFO  listening addr=:8080
//
// Lines that are not JSON objects pass through unchanged. Safe for concurrent writers (the
// container's stdout and stderr).
func NewLogWriter(w io.Writer) io.Writer {
	return run.Lines(func(line string) { _, _ = io.WriteString(w, FormatLogLine(line)+"\n") })
}

// FormatLogLine formats one log line; see NewLogWriter.
func FormatLogLine(line string) string {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return line
	}
	var when, level, msg string
	var attrs []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return line
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return line
		}
		key, _ := k.(string)
		raw, _ := v.(string)
		switch key {
		case "time":
			when = raw
			if t, err := time.Parse(time.RFC3339Nano, raw); err == nil {
				when = t.Local().Format("15:04:05.000")
			}
		case "level":
			level = raw
		case "msg":
			msg = raw
		default:
			attrs = append(attrs, key+"="+value(v))
		}
	}
	return strings.TrimSpace(fmt.Sprintf("%s %-5s %s %s", when, level, msg, strings.Join(attrs, " ")))
}

// value renders an attribute: strings bare (quoted if they hold spaces), the rest as JSON.
func value(v any) string {
	if s, ok := v.(string); ok {
		if strings.ContainsAny(s, " \t\"=") || s == "" {
			return fmt.Sprintf("%q", s)
		}
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

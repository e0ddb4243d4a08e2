package scan

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// maxListed caps the failing findings printed per target; the reports have all of them.
const maxListed = 10

// writeTable prints one target: counts per scanner and severity, then the failing findings by
// name (module and advisory, file and rule), then what the ignore list hid.
func writeTable(w io.Writer, t Target, vuln Status) {
	// One write per table, so that line-oriented writers (test logs) see whole lines; the
	// terminal's errors are not the gate's.
	out := new(bytes.Buffer)
	defer func() { _, _ = w.Write(out.Bytes()) }()
	name := t.Name
	if t.Platform != "" {
		name += " [" + t.Platform + "]"
	}
	fmt.Fprintf(out, "\n%s (%s) %.1fs, reports %s\n", name, strings.Join(t.Scanners, ", "), t.Duration.Seconds(), strings.Join(t.Reports, " "))
	// Right-aligned counts under a fixed-width scanner column.
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  %-10s\t%s\t\n", "scanner", strings.Join(Severities, "\t"))
	if !vuln.Ran && t.Name != "config" {
		fmt.Fprintf(tw, "  %-10s\t-\t-\t-\t-\t-\t  NOT RUN\n", "vuln")
	}
	for _, s := range t.Scanners {
		row := []string{fmt.Sprintf("  %-10s", s)}
		for _, sev := range Severities {
			n := 0
			for _, f := range t.Findings {
				if f.Scanner == s && f.Severity == sev {
					n++
				}
			}
			row = append(row, fmt.Sprint(n))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
	for i, f := range t.Failing {
		if i == maxListed {
			fmt.Fprintf(out, "  ✗ ... %d more in the reports\n", len(t.Failing)-maxListed)
			break
		}
		fmt.Fprintln(out, "  ✗", f)
	}
	for _, f := range t.Suppressed {
		fmt.Fprintf(out, "  ignored %s %s %s: %s\n", f.Scanner, f.ID, f.What, f.Title)
	}
}

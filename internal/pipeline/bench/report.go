package bench

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// The results section of BENCHMARKS.md lies between these markers; the rest of the file is
// written by hand and kept as it is.
const (
	StartMarker = "<!-- bench:results:start -->"
	EndMarker   = "<!-- bench:results:end -->"
	DocFile     = "BENCHMARKS.md"
)

// Report is a whole run: where, how, and the results.
type Report struct {
	Machine Machine
	Command string // the command line that reproduces the run
	Results []Result
}

// WriteText prints the report for a terminal.
func (r Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n%s\n", r.Command, r.Machine.Line())
	for _, res := range r.Results {
		fmt.Fprintf(w, "\n%s: %s\n", res.Case, res.Title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  CONTENDER\tROLE\tMETRIC\tN\tMEDIAN\tMIN–MAX\t"+lastHeader(res))
		for _, s := range res.Series {
			st := Summarize(s.Values)
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.Contender, s.Role, s.Metric, st.N,
				formatValue(st.Median, s.Unit), minMax(st, s.Unit), res.column(s))
		}
		tw.Flush()
		for _, n := range res.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
	goals := r.goals()
	if len(goals) > 0 {
		fmt.Fprintln(w, "\nGoals")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, g := range goals {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", g.Case, g.Goal, g.Measured, g.verdict())
		}
		tw.Flush()
	}
}

// Markdown is the results section: machine, command, goals, then one table per case.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Produced by `%s` on %s.\n\n", r.Command, r.Machine.Date)
	fmt.Fprintf(&b, "**Machine:** %s\n", r.Machine.Line())
	if goals := r.goals(); len(goals) > 0 {
		b.WriteString("\n#### Goals\n\n| case | goal | measured (median) | verdict |\n|---|---|---|---|\n")
		for _, g := range goals {
			v := g.verdict()
			if !g.Met {
				v = "**missed**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", g.Case, cell(g.Goal), g.Measured, v)
		}
	}
	for _, res := range r.Results {
		fmt.Fprintf(&b, "\n#### %s: %s\n\n", res.Case, cell(res.Title))
		fmt.Fprintf(&b, "| contender | role | metric | n | median | min–max | %s |\n|---|---|---|---|---|---|---|\n", lastHeader(res))
		for _, s := range res.Series {
			st := Summarize(s.Values)
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s | %s |\n", cell(s.Contender), s.Role, s.Metric, st.N,
				formatValue(st.Median, s.Unit), minMax(st, s.Unit), res.column(s))
		}
		for _, n := range res.Notes {
			fmt.Fprintf(&b, "\n%s\n", n)
		}
	}
	return b.String()
}

func (r Report) goals() []Verdict {
	var out []Verdict
	for _, res := range r.Results {
		out = append(out, res.Goals...)
	}
	return out
}

func lastHeader(r Result) string {
	if r.Shares {
		return "share of total"
	}
	return "subject ÷ this"
}

func minMax(st Stats, unit string) string {
	return formatValue(st.Min, unit) + " – " + formatValue(st.Max, unit)
}

// cell keeps a table cell on one row.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

// ReplaceResults returns doc with the text between StartMarker and EndMarker replaced by body;
// everything outside the markers is kept byte for byte.
func ReplaceResults(doc, body string) (string, error) {
	i := strings.Index(doc, StartMarker)
	j := strings.Index(doc, EndMarker)
	switch {
	case i < 0 || j < 0:
		return "", fmt.Errorf("%s has no results section: add a line %s and, below it, a line %s where the results go",
			DocFile, StartMarker, EndMarker)
	case j < i:
		return "", fmt.Errorf("%s: %s comes before %s; put the start marker first", DocFile, EndMarker, StartMarker)
	case strings.Count(doc, StartMarker) > 1 || strings.Count(doc, EndMarker) > 1:
		return "", fmt.Errorf("%s holds the results markers more than once; keep one pair", DocFile)
	}
	head := doc[:i+len(StartMarker)]
	return head + "\n" + strings.TrimRight(body, "\n") + "\n" + doc[j:], nil
}

// WriteDoc rewrites the results section of the file at path.
func WriteDoc(path, body string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s not found: it holds the hand-written part of the benchmarks; restore it from git", path)
	}
	if err != nil {
		return err
	}
	out, err := ReplaceResults(string(data), body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

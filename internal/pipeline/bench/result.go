package bench

import (
	"fmt"
	"math"
)

// Series is the repetitions of one metric of one contender.
type Series struct {
	Contender string
	Role      string // subject, limit, peer; empty for a breakdown
	Metric    string // time, req/s, p50, p99, size
	Unit      string
	Values    []float64
}

// Result is one case: its series, its goals and what a reader needs to know about them.
type Result struct {
	Case   string
	Title  string // what was compared, including the matrix it was compared on
	Series []Series
	Goals  []Verdict
	Notes  []string
	// Shares: a breakdown (release), each row shown as a share of the "total" row rather than
	// as a ratio to a subject.
	Shares bool
}

// Verdict is one goal of the issue and whether this run met it.
type Verdict struct {
	Case, Goal, Measured string
	Met                  bool
}

// metricUnit names a metric and how its values read.
type metricUnit struct{ metric, unit string }

// seconds is the metric of every timed case.
var seconds = []metricUnit{{"time", "s"}}

func (u metricUnit) format(v float64) string { return formatValue(v, u.unit) }

func formatValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	switch unit {
	case "s":
		if v < 1 {
			return fmt.Sprintf("%.3f s", v)
		}
		if v < 10 {
			return fmt.Sprintf("%.2f s", v)
		}
		return fmt.Sprintf("%.1f s", v)
	case "ms":
		if v < 1 {
			return fmt.Sprintf("%.3f ms", v)
		}
		return fmt.Sprintf("%.2f ms", v)
	case "MiB":
		return fmt.Sprintf("%.2f MiB", v)
	case "req/s":
		return fmt.Sprintf("%.0f req/s", v)
	}
	return fmt.Sprintf("%g %s", v, unit)
}

// find returns the series of contender and metric.
func (r *Result) find(contender, metric string) (Series, bool) {
	for _, s := range r.Series {
		if s.Contender == contender && s.Metric == metric {
			return s, true
		}
	}
	return Series{}, false
}

func (r *Result) median(contender, metric string) float64 {
	s, ok := r.find(contender, metric)
	if !ok {
		return math.NaN()
	}
	return Summarize(s.Values).Median
}

// column is the last column of a row: the subject's median over this row's (so a goal such as
// "≤ 1.10× the bare loop" reads straight off the limit's row), or for a breakdown the row's
// share of the total.
func (r *Result) column(s Series) string {
	if r.Shares {
		total := r.median("total", s.Metric)
		if s.Contender == "total" || math.IsNaN(total) {
			return ""
		}
		return fmt.Sprintf("%.0f%%", 100*Ratio(Summarize(s.Values).Median, total))
	}
	if s.Role == "subject" || s.Role == "" {
		return ""
	}
	for _, sub := range r.Series {
		if sub.Role == "subject" && sub.Metric == s.Metric {
			return formatRatio(Ratio(Summarize(sub.Values).Median, Summarize(s.Values).Median))
		}
	}
	return ""
}

func formatRatio(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", x)
}

// ratioGoal records "median(a)/median(b) ≤ limit" (atMost) or "≥ limit".
func (r *Result) ratioGoal(goal, a, b, metric string, limit float64, atMost bool) {
	got := Ratio(r.median(a, metric), r.median(b, metric))
	r.Goals = append(r.Goals, Verdict{Case: r.Case, Goal: goal, Measured: formatRatio(got), Met: compare(got, limit, atMost)})
}

// valueGoal records "median(contender) ≤ limit" (atMost) or "≥ limit", in the series' unit.
func (r *Result) valueGoal(goal, contender, metric string, limit float64, atMost bool) {
	s, _ := r.find(contender, metric)
	got := r.median(contender, metric)
	r.Goals = append(r.Goals, Verdict{Case: r.Case, Goal: goal, Measured: formatValue(got, s.Unit), Met: compare(got, limit, atMost)})
}

func compare(got, limit float64, atMost bool) bool {
	if math.IsNaN(got) {
		return false
	}
	if atMost {
		return got <= limit
	}
	return got >= limit
}

func (v Verdict) verdict() string {
	if v.Met {
		return "met"
	}
	return "MISSED"
}

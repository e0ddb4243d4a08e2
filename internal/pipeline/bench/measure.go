package bench

import (
	"context"
	"fmt"
	"io"
	"time"
)

// contender is one side of a comparison. run does one repetition and returns its measurements
// by metric; it times itself, so that setup a repetition needs (a fresh cache directory, an
// edited file) stays outside the figure.
type contender struct {
	name string
	role string // "subject" (what the pipeline does), "limit" (the floor), "peer" (another tool)
	run  func(ctx context.Context, rep int) (map[string]float64, error)
}

// step is one repetition of one contender.
type step struct{ rep, contender int }

// interleave is the order of the repetitions: A B C A B C ..., so that a slow spell of the
// machine (another job, a thermal limit) hits every contender alike instead of one of them.
func interleave(reps, contenders int) []step {
	var out []step
	for r := range reps {
		for c := range contenders {
			out = append(out, step{r, c})
		}
	}
	return out
}

// timeIt runs fn and returns its wall time as the "time" metric, in seconds.
func timeIt(ctx context.Context, fn func(context.Context) error) (map[string]float64, error) {
	t0 := time.Now()
	if err := fn(ctx); err != nil {
		return nil, err
	}
	return map[string]float64{"time": time.Since(t0).Seconds()}, nil
}

// measure runs the contenders interleaved, reps times each, and returns their series in
// contender order, metrics in the order units lists them.
func measure(ctx context.Context, out io.Writer, reps int, cs []contender, units []metricUnit) ([]Series, error) {
	values := make([]map[string][]float64, len(cs))
	for i := range values {
		values[i] = map[string][]float64{}
	}
	for _, s := range interleave(reps, len(cs)) {
		c := cs[s.contender]
		m, err := c.run(ctx, s.rep)
		if err != nil {
			return nil, fmt.Errorf("%s (repetition %d of %d): %w", c.name, s.rep+1, reps, err)
		}
		fmt.Fprintf(out, "  rep %d/%d  %-32s", s.rep+1, reps, c.name)
		for _, u := range units {
			if v, ok := m[u.metric]; ok {
				values[s.contender][u.metric] = append(values[s.contender][u.metric], v)
				fmt.Fprintf(out, "  %s %s", u.metric, u.format(v))
			}
		}
		fmt.Fprintln(out)
	}
	var series []Series
	for i, c := range cs {
		for _, u := range units {
			if v := values[i][u.metric]; len(v) > 0 {
				series = append(series, Series{Contender: c.name, Role: c.role, Metric: u.metric, Unit: u.unit, Values: v})
			}
		}
	}
	return series, nil
}

package bench

import (
	"math"
	"slices"
)

// Stats summarizes the repetitions of one measurement.
type Stats struct {
	N                int
	Median, Min, Max float64
}

// Summarize computes the median (the mean of the middle two for an even count), min and max.
// The median, not the mean: one repetition disturbed by the machine's other work moves it least.
func Summarize(values []float64) Stats {
	if len(values) == 0 {
		return Stats{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := slices.Clone(values)
	slices.Sort(s)
	mid := len(s) / 2
	m := s[mid]
	if len(s)%2 == 0 {
		m = (s[mid-1] + s[mid]) / 2
	}
	return Stats{N: len(s), Median: m, Min: s[0], Max: s[len(s)-1]}
}

// Ratio is a / b, NaN when b is zero or either is NaN: never a division that reads as a result.
func Ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return a / b
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of values, NaN when empty.
func Percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	s := slices.Clone(values)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

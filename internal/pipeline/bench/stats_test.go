package bench

import (
	"math"
	"testing"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		in                     []float64
		median, minimum, maxim float64
	}{
		{[]float64{3, 1, 2}, 2, 1, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
		{[]float64{7}, 7, 7, 7},
		{[]float64{5, 5, 100, 5, 5}, 5, 5, 100}, // one disturbed repetition does not move it
	} {
		s := Summarize(tc.in)
		if s.Median != tc.median || s.Min != tc.minimum || s.Max != tc.maxim || s.N != len(tc.in) {
			t.Errorf("Summarize(%v) = %+v, want median %v min %v max %v", tc.in, s, tc.median, tc.minimum, tc.maxim)
		}
	}
	in := []float64{3, 1, 2}
	Summarize(in)
	if in[0] != 3 {
		t.Error("Summarize sorted its argument in place")
	}
	if s := Summarize(nil); !math.IsNaN(s.Median) || s.N != 0 {
		t.Errorf("Summarize(nil) = %+v, want NaN", s)
	}
}

func TestRatio(t *testing.T) {
	if r := Ratio(3, 2); r != 1.5 {
		t.Errorf("Ratio(3, 2) = %v", r)
	}
	for _, tc := range [][2]float64{{1, 0}, {math.NaN(), 1}, {1, math.NaN()}} {
		if r := Ratio(tc[0], tc[1]); !math.IsNaN(r) {
			t.Errorf("Ratio(%v, %v) = %v, want NaN", tc[0], tc[1], r)
		}
	}
}

func TestPercentile(t *testing.T) {
	v := make([]float64, 100)
	for i := range v {
		v[i] = float64(100 - i) // 100..1, unsorted
	}
	for p, want := range map[float64]float64{50: 50, 99: 99, 100: 100, 1: 1} {
		if got := Percentile(v, p); got != want {
			t.Errorf("Percentile(1..100, %v) = %v, want %v", p, got, want)
		}
	}
	if got := Percentile([]float64{2}, 99); got != 2 {
		t.Errorf("Percentile of one value = %v", got)
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("Percentile(nil) is not NaN")
	}
}

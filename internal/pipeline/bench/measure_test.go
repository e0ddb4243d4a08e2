package bench

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestInterleave(t *testing.T) {
	got := interleave(2, 3)
	want := []step{{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("interleave(2, 3) = %v, want A B C A B C: %v", got, want)
	}
}

func TestMeasureRunsInterleavedAndKeepsEverySeries(t *testing.T) {
	var order []string
	fake := func(name string, v float64) contender {
		return contender{name: name, role: "peer", run: func(context.Context, int) (map[string]float64, error) {
			order = append(order, name)
			v++
			return map[string]float64{"time": v}, nil
		}}
	}
	series, err := measure(context.Background(), io.Discard, 3, []contender{fake("a", 0), fake("b", 10)}, seconds)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, "") != "ababab" {
		t.Errorf("order %v, want a b a b a b", order)
	}
	if len(series) != 2 || !reflect.DeepEqual(series[0].Values, []float64{1, 2, 3}) || !reflect.DeepEqual(series[1].Values, []float64{11, 12, 13}) {
		t.Errorf("series %+v", series)
	}
}

func TestMeasureNamesTheFailingRepetition(t *testing.T) {
	boom := contender{name: "goreleaser", run: func(_ context.Context, rep int) (map[string]float64, error) {
		if rep == 1 {
			return nil, errors.New("boom")
		}
		return map[string]float64{"time": 1}, nil
	}}
	_, err := measure(context.Background(), io.Discard, 3, []contender{boom}, seconds)
	if err == nil || !strings.Contains(err.Error(), "goreleaser (repetition 2 of 3): boom") {
		t.Errorf("err = %v", err)
	}
}

package bench

import (
	"strings"
	"testing"
)

func sampleReport() Report {
	r := Result{Case: "build-warm", Title: "cross-build of 7 platforms, warm Go cache", Series: []Series{
		{Contender: "build:all", Role: "subject", Metric: "time", Unit: "s", Values: []float64{2.2, 2.0, 2.1}},
		{Contender: "bare parallel go build", Role: "limit", Metric: "time", Unit: "s", Values: []float64{2.0, 1.9, 2.1}},
		{Contender: "goreleaser build --snapshot", Role: "peer", Metric: "time", Unit: "s", Values: []float64{4.2, 4.0, 4.4}},
	}}
	r.ratioGoal("warm build:all ≤ 1.10× the bare loop", "build:all", "bare parallel go build", "time", 1.10, true)
	r.ratioGoal("warm build:all ≤ 0.5× goreleaser", "build:all", "goreleaser build --snapshot", "time", 0.5, true)
	return Report{Machine: Machine{CPU: "Test CPU", Cores: 2, Memory: "4.0 GiB", Go: "go1.26.8", Docker: "27.0", Load: "0.1 0.2 0.3", Date: "2026-01-02 03:04 UTC"},
		Command: "BENCH=build go run mage.go bench", Results: []Result{r}}
}

func TestGoalsAndRatios(t *testing.T) {
	r := sampleReport().Results[0]
	// build:all median 2.1 over the bare loop's 2.0 and goreleaser's 4.2.
	if g := r.Goals[0]; g.Measured != "1.05×" || !g.Met {
		t.Errorf("first goal %+v, want 1.05× met", g)
	}
	if g := r.Goals[1]; g.Measured != "0.50×" || !g.Met {
		t.Errorf("second goal %+v, want 0.50× met (at the limit)", g)
	}
	if got := r.column(r.Series[2]); got != "0.50×" {
		t.Errorf("goreleaser row ratio %q", got)
	}
	if got := r.column(r.Series[0]); got != "" {
		t.Errorf("subject row ratio %q, want none", got)
	}
	r.valueGoal("no-op ≤ 0.5 s", "build:all", "time", 0.5, true)
	if g := r.Goals[2]; g.Met || g.Measured != "2.10 s" || g.verdict() != "MISSED" {
		t.Errorf("value goal %+v", g)
	}
	r.ratioGoal("missing series", "build:all", "nobody", "time", 1, true)
	if g := r.Goals[3]; g.Met || g.Measured != "n/a" {
		t.Errorf("a goal on a missing series %+v, want n/a and missed", g)
	}
}

func TestSharesColumn(t *testing.T) {
	r := Result{Shares: true, Series: []Series{
		{Contender: "scan", Metric: "time", Unit: "s", Values: []float64{25}},
		{Contender: "total", Metric: "time", Unit: "s", Values: []float64{100}},
	}}
	if got := r.column(r.Series[0]); got != "25%" {
		t.Errorf("share %q", got)
	}
	if got := r.column(r.Series[1]); got != "" {
		t.Errorf("total's share %q", got)
	}
}

func TestMarkdown(t *testing.T) {
	md := sampleReport().Markdown()
	for _, want := range []string{
		"Produced by `BENCH=build go run mage.go bench` on 2026-01-02 03:04 UTC.",
		"**Machine:** Test CPU, 2 cores, 4.0 GiB memory",
		"load average 0.1 0.2 0.3 at start",
		"| build-warm | warm build:all ≤ 1.10× the bare loop | 1.05× | met |",
		"#### build-warm: cross-build of 7 platforms, warm Go cache",
		"| goreleaser build --snapshot | peer | time | 3 | 4.20 s | 4.00 s – 4.40 s | 0.50× |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestReplaceResultsKeepsTheRest(t *testing.T) {
	doc := "# Benchmarks\n\nHand-written intro.\n\n" + StartMarker + "\nold results\nmore old\n" + EndMarker + "\n\n## How to rerun\n\ntext\n"
	got, err := ReplaceResults(doc, "new table\n\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Benchmarks\n\nHand-written intro.\n\n" + StartMarker + "\nnew table\n" + EndMarker + "\n\n## How to rerun\n\ntext\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	again, _ := ReplaceResults(got, "new table\n")
	if again != got {
		t.Error("rewriting the same results changed the file")
	}
}

func TestReplaceResultsNamesMissingOrMisorderedMarkers(t *testing.T) {
	for doc, want := range map[string]string{
		"no markers":                                 "add a line " + StartMarker,
		StartMarker + " only":                        "add a line " + StartMarker,
		EndMarker + "\n" + StartMarker:               "put the start marker first",
		StartMarker + StartMarker + "\n" + EndMarker: "more than once",
	} {
		if _, err := ReplaceResults(doc, "x"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReplaceResults(%q) error %v, want %q", doc, err, want)
		}
	}
}

func TestMachineParsing(t *testing.T) {
	if got := cpuModel("processor\t: 0\nmodel name\t: AMD  EPYC 7B13\nflags : x\n"); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
	if got := memTotal("MemTotal:       16384000 kB\nMemFree: 1 kB\n"); got != "15.6 GiB" {
		t.Errorf("memTotal = %q", got)
	}
}

package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/release"
)

// The stage table is read from what release.Summary really prints, so a change to its layout
// fails here rather than in a benchmark run.
func TestParseStagesReadsTheReleaseSummary(t *testing.T) {
	in := []release.StageResult{
		{Name: "prepare", Duration: 300 * time.Millisecond, Result: "ok"},
		{Name: "goreleaser: building binaries", Duration: 42*time.Second + 100*time.Millisecond, Result: "ok"},
		{Name: "goreleaser: docker images (v2)", Duration: 1*time.Minute + 5*time.Second, Result: "ok"},
		{Name: "SBOMs", Result: "SKIPPED (SKIP=sbom)"},
		{Name: "scan", Duration: 20 * time.Second, Result: "ok, NOT RUN: no vulnerability database"},
	}
	var buf bytes.Buffer
	buf.WriteString("==> prepare\nlots of progress\n")
	release.Summary{Version: "1.2.3", Stages: in, Unsigned: true, Root: "/r", Dist: "/r/dist"}.Write(&buf)
	got, err := parseStages(buf.String())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Name+"="+s.Duration.String())
	}
	want := "prepare=300ms goreleaser: building binaries=42.1s goreleaser: docker images (v2)=1m5s scan=20s"
	if strings.Join(names, " ") != want {
		t.Errorf("stages %q\nwant    %q\nfrom:\n%s", strings.Join(names, " "), want, buf.String())
	}
}

func TestParseStagesWithoutTable(t *testing.T) {
	if _, err := parseStages("==> prepare\nfailed\n"); err == nil || !strings.Contains(err.Error(), "no Stages table") {
		t.Errorf("err = %v", err)
	}
}

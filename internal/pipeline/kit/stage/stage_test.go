package stage

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

// fake is a stage that records that it ran, in ran.
func fake(name string, ran *[]string, note string, err error) Stage {
	return Stage{Name: name, Run: func(context.Context, *Context) (string, error) {
		*ran = append(*ran, name)
		return note, err
	}}
}

func names(rs []Result) string {
	var ns []string
	for _, r := range rs {
		ns = append(ns, r.Name+"="+r.String())
	}
	return strings.Join(ns, ", ")
}

func TestRunRunsInOrderAndRecordsResults(t *testing.T) {
	var out bytes.Buffer
	var ran []string
	skip := fake("b", &ran, "", nil)
	skip.Skip = func(*Context) (string, bool) { return "SKIP=b", true }
	one := fake("d", &ran, "", nil)
	one.OneOff = true
	rs, err := Run(context.Background(), &Context{Out: &out}, []Stage{
		fake("a", &ran, "made 3", nil), skip, fake("c", &ran, "", CannotRun("offline")), one, Skipping("e", "a snapshot has none"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran, ","); got != "a,c,d" {
		t.Fatalf("ran %s, want a,c,d", got)
	}
	if got := names(rs); got != "a=ok, made 3, b=SKIPPED (SKIP=b), c=NOT RUN (offline), d=ok, e=SKIPPED (a snapshot has none)" {
		t.Fatalf("results: %s", got)
	}
	if !rs[3].OneOff || rs[0].OneOff || rs[1].Duration != 0 || rs[2].Duration != 0 {
		t.Fatalf("results %+v", rs)
	}
	for _, want := range []string{"==> a [1/5]\n", "    a: ok, made 3 (", "==> b: SKIPPED (SKIP=b) [2/5]\n", "    c: NOT RUN (offline)", "==> e: SKIPPED (a snapshot has none) [5/5]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunStopsAtTheFirstFailure(t *testing.T) {
	var out bytes.Buffer
	var ran []string
	boom := errors.New("boom")
	rs, err := Run(context.Background(), &Context{Out: &out}, []Stage{
		fake("a", &ran, "", nil), fake("b", &ran, "", boom), fake("c", &ran, "", nil),
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	if got := strings.Join(ran, ","); got != "a,b" {
		t.Fatalf("ran %s after a failure", got)
	}
	if got := names(rs); got != "a=ok, b=FAILED" || !errors.Is(rs[1].Err, boom) {
		t.Fatalf("results: %s (%v)", got, rs[1].Err)
	}
	if !strings.Contains(out.String(), "    b: FAILED (") {
		t.Fatalf("progress:\n%s", out.String())
	}
}

func TestRunStopsWhenTheContextIsDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ran []string
	stop := Stage{Name: "a", Run: func(context.Context, *Context) (string, error) {
		ran = append(ran, "a")
		cancel()
		return "", nil
	}}
	rs, err := Run(ctx, &Context{Out: &bytes.Buffer{}}, []Stage{stop, fake("b", &ran, "", nil)})
	if !errors.Is(err, context.Canceled) || strings.Join(ran, ",") != "a" || len(rs) != 1 {
		t.Fatalf("after cancel: err %v, ran %v, results %s", err, ran, names(rs))
	}
}

func TestSkipSeesWhatEarlierStagesDid(t *testing.T) {
	var ran []string
	first := Stage{Name: "a", Run: func(_ context.Context, c *Context) (string, error) {
		c.Add(Artifact{Name: "a.sbom.json", Kind: "image-sbom"}, Artifact{Name: "x.json", Kind: "vex"}, Artifact{Name: "b.sbom.json", Kind: "image-sbom"})
		return "", nil
	}}
	second := fake("b", &ran, "", nil)
	second.Skip = func(c *Context) (string, bool) { return "no VEX document", c.Artifacts.Name("vex") == "" }
	c := &Context{Out: &bytes.Buffer{}}
	if _, err := Run(context.Background(), c, []Stage{first, second}); err != nil {
		t.Fatal(err)
	}
	if len(ran) != 1 || c.Artifacts.Name("vex") != "x.json" || c.Artifacts.Name("provenance") != "" {
		t.Fatalf("ran %v, artifacts %+v", ran, c.Artifacts)
	}
	if sboms := c.Artifacts.Of("image-sbom"); len(sboms) != 2 || sboms[0].Name != "a.sbom.json" || sboms[1].Name != "b.sbom.json" {
		t.Fatalf("image SBOMs %+v, want both in the order made", sboms)
	}
}

// The stamp is read from git once a run: a second look does not run git again (here it could
// not: the checkout is gone).
func TestStampIsReadOnce(t *testing.T) {
	root := projecttest.Root(t)
	c := New(root, &bytes.Buffer{}, settings.Settings{})
	first, err := c.Stamp(context.Background())
	if err != nil || first.Version == "" {
		t.Fatalf("Stamp = %+v, %v", first, err)
	}
	c.Root = filepath.Join(t.TempDir(), "gone")
	if again, err := c.Stamp(context.Background()); err != nil || again != first {
		t.Fatalf("second Stamp = %+v, %v; want %+v again", again, err, first)
	}
}

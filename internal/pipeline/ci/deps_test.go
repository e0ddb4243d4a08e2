package ci

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// module is this repository's module path.
const module = "github.com/slipway-dev/slipway"

// servicePackages are the packages of this module, among deps, that the pipeline must not
// link (docs/architecture.md: the pipeline never pulls in the service's dependencies). It may
// link itself (the module's root package is the magefile), internal/buildinfo, the stamp both
// sides share, and internal/envname, the misspelt-variable guess both sides make; each imports
// the standard library only.
func servicePackages(deps []string) []string {
	var bad []string
	for _, p := range deps {
		if p == module || !strings.HasPrefix(p, module+"/") {
			continue
		}
		if p == module+"/internal/buildinfo" || p == module+"/internal/envname" || strings.HasPrefix(p, module+"/internal/pipeline/") {
			continue
		}
		bad = append(bad, p)
	}
	return bad
}

func TestServicePackages(t *testing.T) {
	deps := []string{"fmt", "gopkg.in/yaml.v3", module + "/internal/pipeline/bench", module + "/internal/buildinfo",
		module + "/internal/config", module + "/internal/server", module + "/cmd/slipway", module + "/internal/pipelinex"}
	want := []string{module + "/internal/config", module + "/internal/server", module + "/cmd/slipway", module + "/internal/pipelinex"}
	if got := servicePackages(deps); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// The pipeline (its packages and the magefile) links none of the service's packages, and so
// none of what they import. The standard library is not listed: it is shared by definition.
func TestPipelineLinksNoServicePackage(t *testing.T) {
	r := projecttest.Root(t)
	for _, args := range [][]string{
		{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./internal/pipeline/..."},
		{"list", "-tags", "mage", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "."},
	} {
		out, err := run.Cmd{Dir: r}.Output(context.Background(), "go", args...)
		if err != nil {
			t.Fatal(err)
		}
		deps := strings.Fields(out)
		if !slices.Contains(deps, module+"/internal/pipeline/kit/run") {
			t.Fatalf("go %s listed no pipeline package: the check would pass on nothing\n%s", strings.Join(args, " "), out)
		}
		if bad := servicePackages(deps); len(bad) > 0 {
			t.Errorf("go %s: the pipeline links the service's packages %v; docs/architecture.md: the pipeline never "+
				"pulls in the service's dependencies (run the built service as a process instead)", strings.Join(args, " "), bad)
		}
	}
}

package quality

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
	"github.com/slipway-dev/slipway/internal/pipeline/quality/vulndbtest"
)

const (
	promModule = "github.com/prometheus/client_golang"
	promhttp   = promModule + "/prometheus/promhttp"
	service    = "./cmd/slipway" // the service's main package, as the scan stage checks it
)

// advisory marks symbols of one package of github.com/prometheus/client_golang, a module the
// service requires, as vulnerable; its alias is the CVE of the same number.
func advisory(id, pkg string, symbols ...string) vulndbtest.Advisory {
	return vulndbtest.Advisory{ID: id, Module: promModule, Package: pkg, Symbols: symbols, Aliases: []string{"CVE-" + strings.TrimPrefix(id, "GO-")}}
}

// pinnedTool is the pinned tool's binary (built into .slipway/tools on first use, which can take
// minutes; CI's `mage setup` has built it) and the repository root, whose module is the service.
func pinnedTool(t *testing.T, name string) (bin, root string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: runs the pinned " + name)
	}
	root = projecttest.Root(t)
	bin, err := tools.Path(context.Background(), root, name)
	if err != nil {
		t.Fatal(err)
	}
	return bin, root
}

// The gate: an advisory against a function the service calls fails the check, naming the
// advisory, the symbol and our call site. A local database works in offline mode.
func TestVulnFailsOnCalledSymbol(t *testing.T) {
	bin, root := pinnedTool(t, "govulncheck")
	vulnDB := vulndbtest.Write(t,
		// The service serves /metrics with promhttp.HandlerFor (internal/server/server.go).
		advisory("GO-2099-0001", promhttp, "HandlerFor"),
		// Imported by the service, but this function is never called.
		advisory("GO-2099-0002", promhttp, "InstrumentRoundTripperDuration"),
	)
	res, err := Vuln(context.Background(), root, bin, settings.Settings{Offline: true, VulnDB: vulnDB})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed() || len(res.Findings) != 1 {
		t.Fatalf("want exactly one called finding, got %+v", res)
	}
	f := res.Findings[0]
	if f.ID != "GO-2099-0001" || f.Symbol != promhttp+".HandlerFor" || f.Module != promModule || f.Fixed != "v99.0.0" ||
		!strings.HasPrefix(f.Caller, "internal/server/") {
		t.Fatalf("finding = %+v", f)
	}
	if len(res.Imported) != 1 || res.Imported[0].ID != "GO-2099-0002" || res.Imported[0].Package != promhttp {
		t.Fatalf("want GO-2099-0002 reported as imported but not called (and GO-2099-0001 only as called), got %+v", res.Imported)
	}
	// Other scanners (Trivy) name advisories by their aliases: VEX documents need both names.
	for id, want := range map[string]string{"GO-2099-0001": "CVE-2099-0001", "GO-2099-0002": "CVE-2099-0002"} {
		if got := res.Aliases[id]; len(got) != 1 || got[0] != want {
			t.Errorf("aliases of %s = %v, want [%s]", id, got, want)
		}
	}
	var report strings.Builder
	res.Report(&report)
	t.Log("\n" + report.String())
	for _, want := range []string{"CALLED", "GO-2099-0001", promhttp + ".HandlerFor", "vuln: FAIL"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "GO-2099-0001") || !strings.Contains(err.Error(), "HandlerFor") {
		t.Fatalf("want an error naming the advisory and the symbol, got %v", err)
	}
}

// Advisories whose vulnerable code the service never calls are reported and do not fail.
// This one checks only the service's main package (and what it imports).
func TestVulnPassesWhenSymbolUnreachable(t *testing.T) {
	bin, root := pinnedTool(t, "govulncheck")
	vulnDB := vulndbtest.Write(t,
		advisory("GO-2099-0002", promhttp, "InstrumentRoundTripperDuration"),
		// In a module the service requires, but nothing imports the push package.
		advisory("GO-2099-0003", promModule+"/prometheus/push", "New"),
	)
	res, err := Vuln(context.Background(), root, bin, settings.Settings{VulnDB: vulnDB}, service)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() || res.Err() != nil {
		t.Fatalf("nothing vulnerable is called, yet the check fails: %+v", res)
	}
	if len(res.Imported) != 2 || res.Imported[0].ID != "GO-2099-0002" || res.Imported[1].ID != "GO-2099-0003" || res.Imported[1].Package != "" {
		t.Fatalf("want both advisories reported as not called, got %+v", res.Imported)
	}
	var report strings.Builder
	res.Report(&report)
	t.Log("\n" + report.String())
	for _, want := range []string{"GO-2099-0002", "GO-2099-0003", "vulnerable package not imported", "vuln: ok"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}
}

func TestVulnOfflineWithoutDBIsNotRun(t *testing.T) {
	// No binary is needed: the check stops before running anything.
	res, err := Vuln(context.Background(), t.TempDir(), "/nonexistent/govulncheck", settings.Settings{Offline: true})
	if err != nil || res.Ran || res.Failed() || res.Err() != nil {
		t.Fatalf("offline without a database: %+v, %v", res, err)
	}
	var b strings.Builder
	res.Report(&b)
	if got, want := b.String(), "vuln: NOT RUN (offline, no vulnerability database; set SLIPWAY_VULNDB=file:///...)\n"; got != want {
		t.Fatalf("report = %q, want %q", got, want)
	}
}

// Outside offline mode a database that cannot be read or reached is an error naming the fix,
// and so is a configured one in offline mode.
func TestVulnUnreachableDBIsAnError(t *testing.T) {
	closed := func() string { // a loopback port nothing listens on
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return "http://" + l.Addr().String()
	}()
	for _, c := range []struct {
		name, db string
		offline  bool
		want     string
	}{
		{"missing directory", "file://" + filepath.Join(t.TempDir(), "missing"), false, "no Go vulnerability database at"},
		{"not a database", t.TempDir(), false, "no Go vulnerability database at"},
		{"configured but missing, offline", filepath.Join(t.TempDir(), "missing"), true, "no Go vulnerability database at"},
		{"unreachable server", closed, false, "cannot reach the Go vulnerability database " + closed},
		{"unknown scheme", "ftp://example.org/db", false, "want file:///path"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Vuln(context.Background(), t.TempDir(), "/nonexistent/govulncheck", settings.Settings{Offline: c.offline, VulnDB: c.db})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error containing %q, got %v", c.want, err)
			}
			if !strings.Contains(err.Error(), VulnDBEnv) {
				t.Fatalf("the error does not name the fix (%s): %v", VulnDBEnv, err)
			}
		})
	}
}

// When govulncheck itself fails (here: code that does not compile), the error carries its
// explanation rather than the JSON stream.
func TestVulnReportsWhyGovulncheckFailed(t *testing.T) {
	bin, _ := pinnedTool(t, "govulncheck")
	mod := t.TempDir()
	for name, body := range map[string]string{
		"go.mod":  "module example.com/broken\n\ngo 1.26\n",
		"main.go": "package main\n\nfunc main() { notDefined() }\n",
	} {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vulnDB := vulndbtest.Write(t, advisory("GO-2099-0001", promhttp, "HandlerFor"))
	_, err := Vuln(context.Background(), mod, bin, settings.Settings{VulnDB: vulnDB})
	if err == nil || !strings.Contains(err.Error(), "undefined: notDefined") || strings.Contains(err.Error(), `"config"`) {
		t.Fatalf("want govulncheck's own explanation, got %v", err)
	}
	t.Log(err)
}

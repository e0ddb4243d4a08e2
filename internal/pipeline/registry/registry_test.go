package registry

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/project"
	"github.com/slipway-dev/slipway/internal/pipeline/tools"
)

func TestStartServesV2AndStops(t *testing.T) {
	root, err := project.Root()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := tools.Path(context.Background(), root, "registry")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Start(context.Background(), bin, t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + r.Addr + "/v2/_catalog")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("catalog: %d", resp.StatusCode)
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if answers(r.Addr) {
		t.Fatal("registry still answers after Stop")
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:5000", ":5000", "10.0.0.1:5000", "nonsense"} {
		if _, err := Start(context.Background(), "/bin/false", t.TempDir(), addr); err == nil {
			t.Errorf("%s accepted", addr)
		} else if !strings.Contains(err.Error(), addr) {
			t.Errorf("%s: error does not name the address: %v", addr, err)
		}
	}
}

package release

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
)

func TestCheckNamesAMissingTool(t *testing.T) {
	root, err := project.Root()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CRANE_BIN", "/nonexistent/crane")
	var out bytes.Buffer
	err = Check(context.Background(), root, &out)
	if err == nil || !strings.Contains(err.Error(), "crane") {
		t.Fatalf("Check with crane missing: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "MISSING: CRANE_BIN=/nonexistent/crane") {
		t.Fatalf("the table does not say what is missing:\n%s", out.String())
	}
}

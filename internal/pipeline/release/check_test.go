package release

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
)

func TestCheckNamesAMissingTool(t *testing.T) {
	root := projecttest.Root(t)
	t.Setenv("CRANE_BIN", "/nonexistent/crane")
	var out bytes.Buffer
	err := Check(context.Background(), stage.New(root, &out, settings.Current()))
	if err == nil || !strings.Contains(err.Error(), "crane") {
		t.Fatalf("Check with crane missing: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "MISSING: CRANE_BIN=/nonexistent/crane") {
		t.Fatalf("the table does not say what is missing:\n%s", out.String())
	}
}

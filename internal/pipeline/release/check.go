package release

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
)

// Needs are the pinned tools a full release runs.
var Needs = []string{"goreleaser", "cosign", "trivy", "crane", "registry", "govulncheck"}

// Check is `mage release:check`: goreleaser's own config check (which also fails on deprecated
// settings), .goreleaser.yaml against build:all, and every tool, binary and permission the
// release needs, each listed; it installs nothing.
func Check(ctx context.Context, c *stage.Context) error {
	root, out := c.Root, c.Out
	var problems []string
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	report := func(what, state string, err error) {
		if err != nil {
			state = "MISSING: " + err.Error()
			problems = append(problems, what)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", what, state)
	}
	for _, name := range Needs {
		t, err := tools.Lookup(name)
		if err != nil {
			return err
		}
		p, ok, err := t.Installed(root)
		if err == nil && !ok {
			err = fmt.Errorf("not installed: run `go run mage.go setup`")
		}
		report(name, p, err)
	}
	tw.Flush()

	gr, _ := tools.Lookup("goreleaser")
	if bin, ok, _ := gr.Installed(root); ok {
		var log bytes.Buffer // goreleaser logs, deprecation notices included, to stderr
		if err := (run.Cmd{Dir: root, Stdout: &log, Stderr: &log}).Run(ctx, bin, "check"); err != nil {
			problems = append(problems, "goreleaser check")
			fmt.Fprintf(out, "goreleaser check: %v\n", err)
		} else if strings.Contains(strings.ToLower(log.String()), "deprecat") {
			problems = append(problems, "goreleaser check: deprecated settings")
			fmt.Fprintln(out, log.String())
		} else {
			fmt.Fprintf(out, "goreleaser check: %s is valid\n", ConfigFile)
		}
	}
	stamp, err := c.Stamp(ctx)
	if err != nil {
		return err
	}
	bs, err := readBuildConfig(ctx, root, stamp)
	if err != nil {
		return err
	}
	if err := CheckConfig(root, bs.platforms); err != nil {
		problems = append(problems, err.Error())
		fmt.Fprintln(out, err)
	} else {
		fmt.Fprintf(out, "%s builds what build:all builds (%s)\n", ConfigFile, strings.Join(bs.platforms, ", "))
	}
	if len(problems) > 0 {
		return fmt.Errorf("release:check failed: %s", strings.Join(problems, "; "))
	}
	return nil
}

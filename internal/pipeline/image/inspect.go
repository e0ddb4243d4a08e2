package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/docker"
)

// Info is what `docker image inspect` and `docker history` say about a local image.
type Info struct {
	ID     string
	Size   int64 // bytes, uncompressed, all layers
	Config struct {
		User         string
		Entrypoint   []string
		Cmd          []string
		Env          []string
		WorkingDir   string
		Labels       map[string]string
		ExposedPorts map[string]struct{}
		Healthcheck  *struct{ Test []string }
	}
	Architecture string
	Layers       []Layer // bottom first
}

// Layer is one step of the image's history.
type Layer struct {
	Size      int64
	CreatedBy string
}

// Inspect reads a local image.
func Inspect(ctx context.Context, ref string) (Info, error) {
	var info Info
	out, err := (docker.CLI{}).ImageInspect(ctx, ref, "{{json .}}")
	if err != nil {
		return info, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		return info, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	hist, err := (docker.CLI{}).History(ctx, ref, "{{.Size}}\t{{.CreatedBy}}")
	if err != nil {
		return info, fmt.Errorf("reading the history of %s: %w", ref, err)
	}
	lines := strings.Split(hist, "\n")
	for i := len(lines) - 1; i >= 0; i-- { // docker history lists the top layer first
		size, by, _ := strings.Cut(lines[i], "\t")
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil {
			return info, fmt.Errorf("history of %s: size %q: %w", ref, size, err)
		}
		info.Layers = append(info.Layers, Layer{Size: n, CreatedBy: by})
	}
	return info, nil
}

// Report prints the image's size and the layers that hold bytes, largest last: what to look at
// when an image grows.
func (i Info) Report(w io.Writer, name string) {
	fmt.Fprintf(w, "%s  %s  %s\n", name, shortID(i.ID), MiB(i.Size))
	for _, l := range i.Layers {
		if l.Size == 0 {
			continue // metadata-only steps: ENV, LABEL, USER, ...
		}
		fmt.Fprintf(w, "  %12s  %s\n", MiB(l.Size), describe(l.CreatedBy))
	}
}

// MiB formats bytes for people.
func MiB(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// describe shortens a history entry: BuildKit's "/bin/sh -c #(nop) " prefixes and long commands.
func describe(createdBy string) string {
	s := strings.TrimSpace(strings.TrimPrefix(createdBy, "/bin/sh -c #(nop) "))
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		s = "(base image layer)"
	}
	if len(s) > 90 {
		s = s[:87] + "..."
	}
	return s
}

package image

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/docker"
)

// ContainerPort is the port the service listens on in its images (its default --addr :8080,
// the Dockerfiles' EXPOSE).
const ContainerPort = 8080

// RunOptions is one hardened container of the service.
type RunOptions struct {
	Image string
	Name  string
	Port  int      // host port, published on 127.0.0.1 only; 0 lets Docker pick one
	Env   []string // KEY=VALUE
	// Platform (os/arch[/variant]) runs another architecture's image, emulated; "" is the host's.
	Platform string
}

// hardening is how every container of the service runs: as the image's non-root user (enforced
// even if an image forgot it), root filesystem read-only with a small tmpfs for /tmp, no Linux
// capabilities, no privilege escalation through setuid binaries.
var hardening = []string{
	"--read-only",
	"--tmpfs", "/tmp:rw,noexec,nosuid,size=16m",
	"--cap-drop=ALL",
	"--security-opt=no-new-privileges",
	"--user", "65532:65532",
}

// Container is a running container.
type Container struct {
	Name string
	URL  string // http://127.0.0.1:<port>
}

// Args is the `docker run` command line (without "docker") that Start runs: detached,
// hardened, the port published on loopback. The bench times it as it is.
func (o RunOptions) Args() []string {
	args := append([]string{"run", "--detach", "--name", o.Name}, hardening...)
	if o.Platform != "" {
		args = append(args, "--platform", o.Platform)
	}
	args = append(args, "--publish", fmt.Sprintf("127.0.0.1:%s:%d", portArg(o.Port), ContainerPort))
	for _, e := range o.Env {
		args = append(args, "--env", e)
	}
	return append(args, o.Image)
}

// Start runs o.Image detached, hardened, with the port published on loopback.
func Start(ctx context.Context, o RunOptions) (*Container, error) {
	if err := (docker.CLI{}).Run(ctx, o.Args()); err != nil {
		if strings.Contains(err.Error(), "is already in use") {
			return nil, fmt.Errorf("a container named %s exists already (a detached run?): stop it with `mage docker:stop`", o.Name)
		}
		if strings.Contains(err.Error(), "address already in use") || strings.Contains(err.Error(), "port is already allocated") {
			_ = (docker.CLI{}).Remove(context.WithoutCancel(ctx), o.Name)
			return nil, fmt.Errorf("port %d on 127.0.0.1 is taken: choose another with PORT=<port>", o.Port)
		}
		return nil, err
	}
	c := &Container{Name: o.Name}
	c.resolveURL(ctx)
	return c, nil
}

// resolveURL asks Docker for the published port. It has none once the container exited (a
// service that fails at once): the URL stays empty and WaitReady reports the exit.
func (c *Container) resolveURL(ctx context.Context) {
	if hostPort, err := (docker.CLI{}).Port(ctx, c.Name, strconv.Itoa(ContainerPort)+"/tcp"); err == nil && hostPort != "" {
		c.URL = "http://" + strings.Fields(hostPort)[0] // "127.0.0.1:49153": one line, one binding
	}
}

func portArg(p int) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(p)
}

// Ready reports whether url answers 200 now; a connection error is "not yet", not an error.
func Ready(ctx context.Context, client *http.Client, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, nil
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// WaitReady polls /readyz until it answers 200. It fails at once if the container exits, and
// after timeout otherwise; the error carries the container's last log lines.
func (c *Container) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := http.Client{Timeout: time.Second}
	for {
		if c.URL == "" {
			c.resolveURL(ctx)
		}
		if c.URL != "" {
			if ok, err := Ready(ctx, &client, c.URL+"/readyz"); ok || err != nil {
				return err
			}
		}
		if ctx.Err() != nil {
			return ctx.Err() // cancelled: not the container's failure
		}
		running, state := c.running(ctx)
		if !running || time.Now().After(deadline) {
			why := fmt.Sprintf("did not become ready within %s", timeout)
			if !running {
				why = "exited (status, exit code: " + state + ")"
			}
			return fmt.Errorf("container %s %s; its last log lines:\n%s", c.Name, why, c.LogTail(context.WithoutCancel(ctx), 20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// running reports whether the container runs, and its status and exit code for messages.
func (c *Container) running(ctx context.Context) (bool, string) {
	state, _ := (docker.CLI{}).Inspect(ctx, c.Name, "{{.State.Status}} {{.State.ExitCode}}")
	return strings.HasPrefix(state, "running"), state
}

// LogTail is the container's last n log lines, made readable.
func (c *Container) LogTail(ctx context.Context, n int) string {
	var b strings.Builder
	_ = (docker.CLI{}).Logs(ctx, c.Name, n, NewLogWriter(&b), NewLogWriter(&b))
	return b.String()
}

// Stop stops the container gracefully: SIGTERM, then SIGKILL after grace. It returns the exit code.
func Stop(ctx context.Context, name string, grace time.Duration) (int, error) {
	if err := (docker.CLI{}).Stop(ctx, name, grace); err != nil {
		return -1, err
	}
	return (docker.CLI{}).ExitCode(ctx, name)
}

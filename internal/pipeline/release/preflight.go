package release

import (
	"context"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/preflight"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/registry"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// minFree is the disk a release wants free: a cold Go build cache of the pinned tools is a few
// GiB, the release itself (archives, images, reports) a few hundred MiB.
const minFree = 3 << 30

// Preflight checks in seconds what the release needs, before any tool is built: disk, the
// signing key's password, the registry port, and that the base image's registry answers.
func Preflight(ctx context.Context, o Options) error {
	dirs := []string{o.Root}
	if c, err := run.Output(ctx, "go", "env", "GOCACHE"); err == nil && c != "" && c != "off" {
		dirs = append(dirs, c)
	}
	checks := []preflight.Check{preflight.FreeDisk(minFree, dirs...)}
	st := ReadState(o.Settings)
	// A KMS key has no password; keyless CI signing has no key.
	if !o.Skip.Has("sign") && !strings.Contains(st.CosignKey, "://") && (st.CosignKey != "" || !st.OIDC) {
		checks = append(checks, passwordCheck(o.Root, st.CosignKey, o.Settings.CosignPassword))
	}
	if !o.Skip.Has("images") {
		// The run proof starts every platform image with Docker.
		checks = append(checks, preflight.Docker(), registry.PortCheck(project.StateDir(o.Root)))
		if !o.Settings.Offline {
			src, err := image.SourceFrom(o.Settings, o.Settings.RegistryAddr, "")
			if err != nil {
				return err
			}
			checks = append(checks, src.RegistryCheck(image.Distroless))
		}
	}
	return preflight.Run(ctx, o.Out, checks...)
}

// passwordCheck: COSIGN_PASSWORD must be set for a key file, and must open the key if it exists
// and cosign is installed (otherwise the check repeats once cosign is built, before goreleaser).
func passwordCheck(root, key string, password bool) preflight.Check {
	pair := sign.LocalKey(root)
	why := "it encrypts the local signing key " + pair.Private + " (made on first use)"
	if key != "" {
		pair = sign.KeyPair{Private: key}
		why = "it decrypts COSIGN_KEY=" + key
	}
	env := preflight.Env(sign.PasswordEnv, password, why)
	return preflight.Check{Name: "signing key password", Run: func(ctx context.Context) error {
		if err := env.Run(ctx); err != nil {
			return err
		}
		t, err := tools.Lookup("cosign")
		if err != nil {
			return err
		}
		cosign, ok, err := t.Installed(root)
		if err != nil || !ok {
			return err
		}
		return pair.CheckPassword(ctx, cosign)
	}}
}

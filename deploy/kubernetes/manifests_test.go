package kubernetes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// kustomizations are the base and every overlay: each must render and pass every check.
func kustomizations(t *testing.T) []string {
	t.Helper()
	overlays, err := filepath.Glob("overlays/*/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(overlays) == 0 {
		t.Fatal("no overlays/*/kustomization.yaml: the example overlay is missing")
	}
	dirs := []string{"base"}
	for _, o := range overlays {
		dirs = append(dirs, filepath.Dir(o))
	}
	return dirs
}

func TestEveryManifestFileDecodesStrictly(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" || d.Name() == "kustomization.yaml" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		objs, err := Decode(data)
		if err != nil {
			t.Errorf("%s: %v", path, err)
		}
		n += len(objs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 6 {
		t.Fatalf("decoded %d objects from the manifest files; expected at least the base's 5 and the overlay's", n)
	}
}

func TestRenderedKustomizationsPassChecks(t *testing.T) {
	for _, dir := range kustomizations(t) {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			if err := Check(objs); err != nil {
				t.Fatal(err)
			}
			kinds := map[string]bool{}
			for _, o := range objs {
				kinds[o.GetObjectKind().GroupVersionKind().Kind] = true
			}
			for _, k := range []string{"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "ServiceAccount"} {
				if !kinds[k] {
					t.Errorf("rendered %s has no %s", dir, k)
				}
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	base := string(mustRender(t, "base"))
	for _, tc := range []struct{ name, old, new, want string }{
		{"unknown field (a typo drops a security setting)", "readOnlyRootFilesystem", "readOnlyRootFileSystem", `unknown field "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"`},
		{"unknown kind", "kind: PodDisruptionBudget", "kind: PodDisruptionBudgets", `no kind "PodDisruptionBudgets"`},
		{"duplicate field", "  replicas: 2\n", "  replicas: 2\n  replicas: 3\n", `"replicas" already set`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(base, tc.old, tc.new, 1)
			if bad == base {
				t.Fatalf("the rendered base no longer contains %q: update the test", tc.old)
			}
			_, err := Decode([]byte(bad))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestCheckRejects breaks one setting of the rendered base at a time: each must be reported.
func TestCheckRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(d *appsv1.Deployment, objs []runtime.Object) []runtime.Object
		want  string
	}{
		{"runAsNonRoot missing", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			d.Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
			d.Spec.Template.Spec.Containers[0].SecurityContext.RunAsNonRoot = nil
			return o
		}, "restricted Pod Security Standard: runAsNonRoot != true"},
		{"privilege escalation", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			d.Spec.Template.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
			return o
		}, "allowPrivilegeEscalation != false"},
		{"capabilities not dropped", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			d.Spec.Template.Spec.Containers[0].SecurityContext.Capabilities = nil
			return o
		}, "unrestricted capabilities"},
		{"no seccomp profile", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			d.Spec.Template.Spec.SecurityContext.SeccompProfile = nil
			d.Spec.Template.Spec.Containers[0].SecurityContext.SeccompProfile = nil
			return o
		}, "seccompProfile"},
		{"root user", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			d.Spec.Template.Spec.SecurityContext.RunAsUser = ptr.To[int64](0)
			return o
		}, "runAsUser=0"},
		{"writable root filesystem", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			d.Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = ptr.To(false)
			return o
		}, "readOnlyRootFilesystem: true"},
		{"service account token mounted", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			d.Spec.Template.Spec.AutomountServiceAccountToken = nil
			return o
		}, "automountServiceAccountToken: false"},
		{"grace period shorter than drain + shutdown", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			d.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](20)
			return o
		}, "terminationGracePeriodSeconds is 20s"},
		{"shutdown timeout raised without the grace period", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			setEnv(d, EnvPrefix+"SHUTDOWN_TIMEOUT", "60s")
			return o
		}, "SHUTDOWN_TIMEOUT (1m0s)"},
		{"drain delay unset", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			setEnv(d, EnvPrefix+"DRAIN_DELAY", "")
			return o
		}, "DRAIN_DELAY"},
		{"rollout may lower capacity", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(1))
			return o
		}, "maxUnavailable: 0"},
		{"readiness on the liveness path", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			d.Spec.Template.Spec.Containers[0].ReadinessProbe.HTTPGet.Path = LivenessPath
			return o
		}, "readinessProbe must GET /readyz"},
		{"no startup probe", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			d.Spec.Template.Spec.Containers[0].StartupProbe = nil
			return o
		}, "add an HTTP startupProbe"},
		{"no memory limit", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			delete(d.Spec.Template.Spec.Containers[0].Resources.Limits, corev1.ResourceMemory)
			return o
		}, "resources.limits.memory"},
		{"no topology spread", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			d.Spec.Template.Spec.TopologySpreadConstraints = nil
			return o
		}, "topologySpreadConstraints"},
		{"no /tmp", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			d.Spec.Template.Spec.Containers[0].VolumeMounts = nil
			return o
		}, "emptyDir at /tmp"},
		{"scrape port is not a container port", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			d.Spec.Template.Annotations["prometheus.io/port"] = "9999"
			return o
		}, `prometheus.io/port "9999"`},
		{"service selects other pods", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			for _, x := range o {
				if s, ok := x.(*corev1.Service); ok {
					s.Spec.Selector = map[string]string{"app.kubernetes.io/name": "other"}
				}
			}
			return o
		}, "no Service selects its pods"},
		{"pod disruption budget blocks drains", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			for _, x := range o {
				if p, ok := x.(*policyv1.PodDisruptionBudget); ok {
					p.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(0))
				}
			}
			return o
		}, "allows no eviction"},
		{"no network policy", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			var kept []runtime.Object
			for _, x := range o {
				if _, ok := x.(*networkingv1.NetworkPolicy); !ok {
					kept = append(kept, x)
				}
			}
			return kept
		}, "no NetworkPolicy selects its pods"},
		{"network policy without egress default deny", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			for _, x := range o {
				if np, ok := x.(*networkingv1.NetworkPolicy); ok {
					np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
				}
			}
			return o
		}, "both Ingress and Egress"},
		{"service account not defined", func(d *appsv1.Deployment, o []runtime.Object) []runtime.Object {
			d.Spec.Template.Spec.ServiceAccountName = "default"
			return o
		}, `ServiceAccount "default"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, "base")
			objs = tc.spoil(deployment(t, objs), objs)
			err := Check(objs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check: got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

// The test renders with the kustomize library and `mage deploy:render` with the pinned CLI:
// they must be the same kustomize, or the checked output is not the deployed output.
func TestKustomizeMatchesPinnedTool(t *testing.T) {
	const api = "sigs.k8s.io/kustomize/api"
	here := requiredVersion(t, "go.mod", api)
	tool := filepath.Join("..", "..", "tools", "kustomize", "go.mod")
	if pinned := requiredVersion(t, tool, api); here != pinned {
		t.Fatalf("this module uses %s %s but %s pins %s: make them equal", api, here, tool, pinned)
	}
}

func requiredVersion(t *testing.T, gomod, module string) string {
	t.Helper()
	data, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse(gomod, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Require {
		if r.Mod.Path == module {
			return r.Mod.Version
		}
	}
	t.Fatalf("%s does not require %s", gomod, module)
	return ""
}

func mustRender(t *testing.T, dir string) []byte {
	t.Helper()
	out, err := Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func render(t *testing.T, dir string) []runtime.Object {
	t.Helper()
	objs, err := Decode(mustRender(t, dir))
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return objs
}

func deployment(t *testing.T, objs []runtime.Object) *appsv1.Deployment {
	t.Helper()
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok {
			return d
		}
	}
	t.Fatal("no Deployment rendered")
	return nil
}

// setEnv sets (or, with value "", removes) an environment variable of the first container.
func setEnv(d *appsv1.Deployment, name, value string) {
	ct := &d.Spec.Template.Spec.Containers[0]
	var env []corev1.EnvVar
	for _, e := range ct.Env {
		if e.Name != name {
			env = append(env, e)
		}
	}
	if value != "" {
		env = append(env, corev1.EnvVar{Name: name, Value: value})
	}
	ct.Env = env
}

// Package kubernetes checks the service's Kubernetes manifests (base/ and overlays/*/).
//
// It lives in its own module so the Kubernetes API types never enter the service's go.mod.
// Three gates, each shown failing by manifests_test.go:
//   - every object decodes strictly into the Kubernetes API types (unknown or duplicate fields,
//     unknown kinds fail), so a typo cannot silently drop a security setting;
//   - the pods pass the "restricted" Pod Security Standard, judged by the admission
//     controller's own code (k8s.io/pod-security-admission);
//   - the objects agree with each other and with how the service shuts down (Check).
package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// EnvPrefix starts the service's environment settings (`mage init` rewrites it).
const EnvPrefix = "SLIPWAY_"

// The service's shutdown: on SIGTERM it fails /readyz, waits DRAIN_DELAY for the endpoints to
// drop the pod, then gives in-flight requests SHUTDOWN_TIMEOUT. The grace period must cover both
// plus a margin for process exit, and not much more, or a hung pod holds up rollouts and drains.
const (
	MinGraceMargin = 5 * time.Second
	MaxGraceMargin = 15 * time.Second
)

// The health endpoints the service serves (internal/server).
const (
	LivenessPath  = "/healthz"
	ReadinessPath = "/readyz"
)

// NonRootUID is the "nonroot" user of the runtime images (distroless and the offline stand-in).
const NonRootUID = 65532

var scheme = runtime.NewScheme()

func init() {
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
}

// Render builds a kustomization directory, as `kustomize build dir` does.
func Render(dir string) ([]byte, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return m.AsYaml()
}

// Decode reads a stream of YAML documents into API objects. Unknown fields, duplicate fields and
// kinds this package does not know are errors.
func Decode(data []byte) ([]runtime.Object, error) {
	codec := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []runtime.Object
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, _, err := codec.Decode(doc, nil, nil)
		if err != nil {
			// Strict errors come back with a decoded object: never use it.
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		objs = append(objs, obj)
	}
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// Check returns every problem in a rendered set of objects: Pod Security Standard violations,
// settings the service relies on, and objects that do not select the Deployment's pods.
func Check(objs []runtime.Object) error {
	var c checker
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.Deployment:
			c.deployments = append(c.deployments, o)
		case *corev1.Service:
			c.services = append(c.services, o)
		case *policyv1.PodDisruptionBudget:
			c.pdbs = append(c.pdbs, o)
		case *networkingv1.NetworkPolicy:
			c.netpols = append(c.netpols, o)
		case *corev1.ServiceAccount:
			c.accounts = append(c.accounts, o)
		}
	}
	if len(c.deployments) == 0 {
		return errors.New("no Deployment in the manifests")
	}
	for _, d := range c.deployments {
		c.deployment(d)
	}
	return errors.Join(c.errs...)
}

type checker struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	pdbs        []*policyv1.PodDisruptionBudget
	netpols     []*networkingv1.NetworkPolicy
	accounts    []*corev1.ServiceAccount
	errs        []error
	subject     string
}

func (c *checker) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s", c.subject, fmt.Sprintf(format, args...)))
}

var restricted = func() policy.Evaluator {
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		panic(err)
	}
	return e
}()

func (c *checker) deployment(d *appsv1.Deployment) {
	c.subject = "Deployment " + d.Name
	pod := &d.Spec.Template
	spec := &pod.Spec

	lv := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	if res := policy.AggregateCheckResults(restricted.EvaluatePod(lv, &pod.ObjectMeta, spec)); !res.Allowed {
		c.fail("violates the restricted Pod Security Standard: %s", res.ForbiddenDetail())
	}

	if !isFalse(spec.AutomountServiceAccountToken) {
		c.fail("set automountServiceAccountToken: false (the service does not call the Kubernetes API)")
	}
	c.serviceAccount(spec.ServiceAccountName)
	if psc := spec.SecurityContext; psc == nil || psc.RunAsUser == nil || *psc.RunAsUser != NonRootUID {
		c.fail("set securityContext.runAsUser: %d, the images' nonroot user", NonRootUID)
	}

	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || d.Spec.Strategy.RollingUpdate == nil ||
		!isZero(d.Spec.Strategy.RollingUpdate.MaxUnavailable) {
		c.fail("use a RollingUpdate strategy with maxUnavailable: 0, so a rollout never lowers capacity")
	}
	if len(spec.TopologySpreadConstraints) == 0 {
		c.fail("add topologySpreadConstraints, so replicas do not share one node or zone")
	}
	for _, t := range spec.TopologySpreadConstraints {
		if !selects(t.LabelSelector, pod.Labels) {
			c.fail("topology spread constraint on %s does not select the pod's labels", t.TopologyKey)
		}
	}
	if len(spec.Containers) == 0 {
		c.fail("has no containers")
		return
	}
	for i := range spec.Containers {
		c.container(spec, &spec.Containers[i])
	}
	main := &spec.Containers[0]
	c.gracePeriod(spec, main)
	c.scrape(pod, main)
	c.service(d, main)
	c.disruptionBudget(d)
	c.networkPolicy(d, main)
}

func (c *checker) container(spec *corev1.PodSpec, ct *corev1.Container) {
	sc := ct.SecurityContext
	if sc == nil || !isTrue(sc.ReadOnlyRootFilesystem) {
		c.fail("container %s: set securityContext.readOnlyRootFilesystem: true", ct.Name)
	}
	c.probe(ct, "livenessProbe", ct.LivenessProbe, LivenessPath)
	c.probe(ct, "readinessProbe", ct.ReadinessProbe, ReadinessPath)
	c.probe(ct, "startupProbe", ct.StartupProbe, "")
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := ct.Resources.Requests[r]; !ok {
			c.fail("container %s: set resources.requests.%s", ct.Name, r)
		}
		if _, ok := ct.Resources.Limits[r]; !ok {
			c.fail("container %s: set resources.limits.%s", ct.Name, r)
		}
	}
	if !mountsEmptyDir(spec, ct, "/tmp") {
		c.fail("container %s: mount an emptyDir at /tmp (the root filesystem is read-only)", ct.Name)
	}
}

// probe checks an HTTP probe on a named port of the container; path "" accepts any path.
func (c *checker) probe(ct *corev1.Container, field string, p *corev1.Probe, path string) {
	switch {
	case p == nil || p.HTTPGet == nil:
		c.fail("container %s: add an HTTP %s", ct.Name, field)
	case path != "" && p.HTTPGet.Path != path:
		c.fail("container %s: %s must GET %s, not %q", ct.Name, field, path, p.HTTPGet.Path)
	case !hasPort(ct, p.HTTPGet.Port):
		c.fail("container %s: %s port %s is not a container port", ct.Name, field, p.HTTPGet.Port.String())
	}
}

func (c *checker) gracePeriod(spec *corev1.PodSpec, ct *corev1.Container) {
	drain, err1 := envDuration(ct, EnvPrefix+"DRAIN_DELAY")
	shutdown, err2 := envDuration(ct, EnvPrefix+"SHUTDOWN_TIMEOUT")
	if err := errors.Join(err1, err2); err != nil {
		c.fail("%v", err)
		return
	}
	if spec.TerminationGracePeriodSeconds == nil {
		c.fail("set terminationGracePeriodSeconds (drain delay %s + shutdown timeout %s + %s margin)", drain, shutdown, MinGraceMargin)
		return
	}
	grace := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	need := drain + shutdown
	if grace < need+MinGraceMargin || grace > need+MaxGraceMargin {
		c.fail("terminationGracePeriodSeconds is %s, but %sDRAIN_DELAY (%s) + %sSHUTDOWN_TIMEOUT (%s) needs between %s and %s: "+
			"change one so they agree", grace, EnvPrefix, drain, EnvPrefix, shutdown, need+MinGraceMargin, need+MaxGraceMargin)
	}
}

func (c *checker) scrape(pod *corev1.PodTemplateSpec, ct *corev1.Container) {
	a := pod.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/path"] == "" {
		c.fail(`annotate the pod prometheus.io/scrape: "true" and prometheus.io/path`)
	}
	if !hasPort(ct, intstr.Parse(a["prometheus.io/port"])) {
		c.fail("prometheus.io/port %q is not a port of container %s", a["prometheus.io/port"], ct.Name)
	}
}

func (c *checker) serviceAccount(name string) {
	for _, sa := range c.accounts {
		if sa.Name == name && name != "" {
			if !isFalse(sa.AutomountServiceAccountToken) {
				c.fail("ServiceAccount %s: set automountServiceAccountToken: false", name)
			}
			return
		}
	}
	c.fail("runs as ServiceAccount %q, which the manifests do not define: give the service its own", name)
}

func (c *checker) service(d *appsv1.Deployment, ct *corev1.Container) {
	found := false
	for _, s := range c.services {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			continue
		}
		found = true
		for _, p := range s.Spec.Ports {
			if !hasPort(ct, p.TargetPort) {
				c.fail("Service %s: targetPort %s is not a port of container %s", s.Name, p.TargetPort.String(), ct.Name)
			}
		}
	}
	if !found {
		c.fail("no Service selects its pods")
	}
}

func (c *checker) disruptionBudget(d *appsv1.Deployment) {
	for _, p := range c.pdbs {
		if !selects(p.Spec.Selector, d.Spec.Template.Labels) {
			continue
		}
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		// A budget that allows no eviction makes every node drain hang.
		if (p.Spec.MaxUnavailable != nil && isZero(p.Spec.MaxUnavailable)) ||
			(p.Spec.MinAvailable != nil && p.Spec.MinAvailable.Type == intstr.Int && p.Spec.MinAvailable.IntVal >= replicas) {
			c.fail("PodDisruptionBudget %s allows no eviction with %d replicas, so node drains would hang", p.Name, replicas)
		}
		return
	}
	c.fail("no PodDisruptionBudget selects its pods")
}

func (c *checker) networkPolicy(d *appsv1.Deployment, ct *corev1.Container) {
	for _, np := range c.netpols {
		if !selects(&np.Spec.PodSelector, d.Spec.Template.Labels) {
			continue
		}
		types := map[networkingv1.PolicyType]bool{}
		for _, t := range np.Spec.PolicyTypes {
			types[t] = true
		}
		if !types[networkingv1.PolicyTypeIngress] || !types[networkingv1.PolicyTypeEgress] {
			c.fail("NetworkPolicy %s: list both Ingress and Egress in policyTypes, so both directions default to deny", np.Name)
		}
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.Ports {
				if p.Port != nil && !hasPort(ct, *p.Port) {
					c.fail("NetworkPolicy %s: ingress port %s is not a port of container %s", np.Name, p.Port.String(), ct.Name)
				}
			}
		}
		return
	}
	c.fail("no NetworkPolicy selects its pods")
}

func envDuration(ct *corev1.Container, name string) (time.Duration, error) {
	for _, e := range ct.Env {
		if e.Name == name {
			d, err := time.ParseDuration(e.Value)
			if err != nil {
				return 0, fmt.Errorf("container %s: %s: %w", ct.Name, name, err)
			}
			return d, nil
		}
	}
	return 0, fmt.Errorf("container %s: set %s explicitly, so the grace period can be checked against it", ct.Name, name)
}

func hasPort(ct *corev1.Container, p intstr.IntOrString) bool {
	for _, cp := range ct.Ports {
		if (p.Type == intstr.String && p.StrVal != "" && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return true
		}
	}
	return false
}

func mountsEmptyDir(spec *corev1.PodSpec, ct *corev1.Container, path string) bool {
	for _, m := range ct.VolumeMounts {
		if m.MountPath != path {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.EmptyDir != nil {
				return true
			}
		}
	}
	return false
}

func selects(sel *metav1.LabelSelector, podLabels map[string]string) bool {
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(podLabels))
}

func isZero(v *intstr.IntOrString) bool {
	return v != nil && ((v.Type == intstr.Int && v.IntVal == 0) || (v.Type == intstr.String && strings.TrimSpace(v.StrVal) == "0%"))
}

func isTrue(b *bool) bool  { return b != nil && *b }
func isFalse(b *bool) bool { return b != nil && !*b }

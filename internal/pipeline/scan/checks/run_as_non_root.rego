# METADATA
# title: Pods must refuse to run as root
# description: >-
#   The images run as UID 65532, but only runAsNonRoot makes the kubelet refuse to start a
#   container as root (an image swapped for one that runs as root, a runAsUser: 0 override).
#   Trivy's own KSV-0012 checks the same at MEDIUM, below the gate's default threshold; this
#   project gates on it, so it is HIGH here.
# scope: package
# schemas:
#   - input: schema["kubernetes"]
# custom:
#   id: SLW-0001
#   avd_id: SLW-0001
#   severity: HIGH
#   recommended_action: Set spec.securityContext.runAsNonRoot (or each container's) to true.
#   input:
#     selector:
#       - type: kubernetes
package user.slipway.SLW0001

import rego.v1

workloads := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}

pod_spec := input.spec.template.spec if input.kind in workloads

pod_spec := input.spec if input.kind == "Pod"

pod_spec := input.spec.jobTemplate.spec.template.spec if input.kind == "CronJob"

containers contains c if some c in pod_spec.containers

containers contains c if some c in pod_spec.initContainers

# A container runs as non-root when it says so, or inherits it from the pod and does not
# override it with false.
non_root(c) if c.securityContext.runAsNonRoot == true

non_root(c) if {
	pod_spec.securityContext.runAsNonRoot == true
	not c.securityContext.runAsNonRoot == false
}

deny contains res if {
	some c in containers
	not non_root(c)
	msg := sprintf("container %q of %s %q may run as root: set securityContext.runAsNonRoot: true", [c.name, input.kind, input.metadata.name])
	res := result.new(msg, c)
}

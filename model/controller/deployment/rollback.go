package deployment

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/kubesim/kubesim/model/api"
)

// Client-side rollout commands. Upstream `kubectl rollout undo` and `kubectl set
// image` run in kubectl, not in the controller: they read the Deployment (and its
// ReplicaSets), compute a new Deployment spec and send it to the apiserver; the
// controller then rolls out whatever template the Deployment holds. These functions
// compute that update from objects read from the apiserver; the caller sends it
// (Client.Update) and retries on a conflict.

// ErrRevisionNotFound is returned (wrapped) by RollbackTo when no ReplicaSet of the
// Deployment has the requested revision, or there is no previous revision.
var ErrRevisionNotFound = errors.New("revision not found")

// ErrTemplateUnchanged is returned (wrapped) by RollbackTo when the Deployment's
// template already equals the target revision's (kubectl prints "skipped rollback
// (current template already matches revision N)" and sends nothing).
var ErrTemplateUnchanged = errors.New("template unchanged")

// ErrPaused is returned (wrapped) by RollbackTo for a paused Deployment, which
// kubectl refuses to roll back.
var ErrPaused = errors.New("deployment is paused")

// RollbackTo returns the Deployment update of `kubectl rollout undo
// [--to-revision N]` (staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollback.go
// DeploymentRollbacker.Rollback, deploymentRevision): revision 0 means the previous
// revision, the second-highest revision among the Deployment's ReplicaSets. The
// target ReplicaSet's pod template, without its pod-template-hash label, replaces
// the Deployment's template, and its annotations replace the Deployment's (except
// the kubectl last-applied, revision and replica annotations, which the Deployment
// keeps). rss may hold other objects' ReplicaSets: only those the Deployment
// controls count. d and rss are not modified.
//
// Once the update is stored, the controller finds the old ReplicaSet with that
// template, makes it the new one with the next revision number and scales it back
// up; no ReplicaSet is created.
func RollbackTo(d *api.Deployment, rss []*api.ReplicaSet, revision int64) (*api.Deployment, error) {
	if revision < 0 {
		return nil, fmt.Errorf("deployment %s/%s: unable to find specified revision %d in history: %w", d.Namespace, d.Name, revision, ErrRevisionNotFound)
	}
	var owned []*api.ReplicaSet
	for _, rs := range rss {
		if rs == nil {
			continue
		}
		if ref := rs.ControllerRef(); ref == nil || ref.Kind != api.KindDeployment || ref.UID != d.UID {
			continue
		}
		owned = append(owned, rs)
	}
	// A deterministic order (oldest first, then by name) for equal revisions.
	slices.SortStableFunc(owned, func(a, b *api.ReplicaSet) int {
		if a.CreationTimestamp != b.CreationTimestamp {
			if a.CreationTimestamp < b.CreationTimestamp {
				return -1
			}
			return 1
		}
		return cmpString(a.Name, b.Name)
	})
	var target *api.ReplicaSet
	if revision > 0 {
		for _, rs := range owned {
			if v, ok := parseRevision(rs); ok && v == revision {
				target = rs
				break
			}
		}
		if target == nil {
			return nil, fmt.Errorf("deployment %s/%s: unable to find specified revision %d in history: %w", d.Namespace, d.Name, revision, ErrRevisionNotFound)
		}
	} else {
		latest, previous := int64(-1), int64(-1)
		var latestRS *api.ReplicaSet
		for _, rs := range owned {
			v, ok := parseRevision(rs)
			if !ok {
				continue
			}
			if latest < v {
				previous, target = latest, latestRS
				latest, latestRS = v, rs
			} else if previous < v {
				previous, target = v, rs
			}
		}
		if target == nil {
			return nil, fmt.Errorf("deployment %s/%s: no rollout history found (no previous revision): %w", d.Namespace, d.Name, ErrRevisionNotFound)
		}
		revision = previous
	}
	if d.Spec.Paused {
		return nil, fmt.Errorf("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume deployment/%s' and try again: %w", d.Name, ErrPaused)
	}
	if equalIgnoreHash(&target.Spec.Template, &d.Spec.Template) {
		return nil, fmt.Errorf("deployment %s/%s: skipped rollback (current template already matches revision %d): %w", d.Namespace, d.Name, revision, ErrTemplateUnchanged)
	}
	out := d.DeepCopy()
	tmpl := target.DeepCopy().Spec.Template
	delete(tmpl.Labels, api.LabelPodTemplateHash)
	out.Spec.Template = tmpl
	ann := map[string]string{}
	for k, v := range d.Annotations {
		if skipCopy(k) {
			ann[k] = v
		}
	}
	for k, v := range target.Annotations {
		if !skipCopy(k) {
			ann[k] = v
		}
	}
	out.Annotations = ann
	return out, nil
}

// parseRevision reads a ReplicaSet's revision: absent is 0, unparsable is skipped
// (util/deployment_util.go Revision; kubectl skips the ReplicaSets it cannot parse).
func parseRevision(rs *api.ReplicaSet) (int64, bool) {
	s, ok := rs.Annotations[api.AnnotationRevision]
	if !ok {
		return 0, true
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// SetImage returns the Deployment update of `kubectl set image deployment/NAME
// CONTAINER=IMAGE` (staging/src/k8s.io/kubectl/pkg/cmd/set/set_image.go): the image
// of the named container, or of every container and init container for "*". An
// unknown container is an error; setting the image a container already has is not
// (the update is then a no-op and bumps no generation). d is not modified.
func SetImage(d *api.Deployment, container, image string) (*api.Deployment, error) {
	if image == "" {
		return nil, fmt.Errorf("deployment %s/%s: set image: empty image for container %q", d.Namespace, d.Name, container)
	}
	out := d.DeepCopy()
	found := false
	spec := &out.Spec.Template.Spec
	for _, cs := range [][]api.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			if container == "*" || cs[i].Name == container {
				cs[i].Image = image
				found = true
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("deployment %s/%s: set image: unable to find container named %q", d.Namespace, d.Name, container)
	}
	return out, nil
}

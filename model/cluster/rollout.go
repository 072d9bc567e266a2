package cluster

import (
	"errors"
	"fmt"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/controller/deployment"
)

// setImage is `kubectl set image deployment/<d> <container>=<image>`.
func setImage(d *api.Deployment, container, image string) (*api.Deployment, string, error) {
	if container == "" {
		container = "*"
	}
	next, err := deployment.SetImage(d, container, image)
	if err != nil {
		return nil, "", err
	}
	return next, fmt.Sprintf("kubectl set image %s=%s: a new pod template, so the deployment controller starts a rollout", container, image), nil
}

// rollback is `kubectl rollout undo [--to-revision N]`: client side, it reads the
// Deployment's ReplicaSets and copies the target revision's template back.
func (c *Cluster) rollback(d *api.Deployment, revision int64) (*api.Deployment, string, error) {
	var rss []*api.ReplicaSet
	for _, o := range c.Objects(api.KindReplicaSet) {
		rs := o.(*api.ReplicaSet)
		if ref := rs.ControllerRef(); ref != nil && ref.UID == d.UID {
			rss = append(rss, rs)
		}
	}
	next, err := deployment.RollbackTo(d, rss, revision)
	if errors.Is(err, deployment.ErrTemplateUnchanged) {
		return nil, "", fmt.Errorf("skipped rollback: %w", err)
	}
	if err != nil {
		return nil, "", err
	}
	what := "the previous revision"
	if revision > 0 {
		what = fmt.Sprintf("revision %d", revision)
	}
	return next, fmt.Sprintf("kubectl rollout undo: copies the pod template of %s back into the Deployment; the matching old ReplicaSet becomes the new one", what), nil
}

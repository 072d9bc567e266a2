package fault

import (
	"fmt"
	"strconv"
)

// The built-in kinds. Expectations quote the Kubernetes defaults (reference §3.3,
// §4, §6.1): node-monitor-grace-period 50 s, default not-ready/unreachable
// tolerations 300 s, CrashLoopBackOff 10 s doubling to 300 s, etcd election timeout
// 1000 ms; with other settings in the scenario the times differ accordingly.
func builtins() []Kind {
	return []Kind{
		&Func{KindName: NodeCrash, On: TargetNode, Do: nodeCrash(false)},
		&Func{KindName: ZoneOutage, On: TargetNode, Validate: needZone, Do: nodeCrash(true)},
		&Func{KindName: NodePartition, On: TargetNode, Do: nodePartition},
		&Func{KindName: KubeletStop, On: TargetNode, Do: kubeletStop},
		&Func{KindName: ContainerCrash, On: TargetPod, Validate: intParam("exitCode", 0, 255), Do: containerCrash},
		&Func{KindName: OOMKill, On: TargetPod, Do: oomKill},
		&Func{KindName: ImagePullFailure, On: TargetImage, Do: pullFailure},
		&Func{KindName: BadVersion, On: TargetImage, Do: badVersion},
		&Func{KindName: EtcdMemberLoss, On: TargetNone, Validate: intParam("members", 1, 4), Do: etcdMemberLoss},
		&Func{KindName: EtcdLeaderLoss, On: TargetNone, Do: etcdLeaderLoss},
		&Func{KindName: APIServerOutage, On: TargetNone, Do: apiserverOutage},
		&Func{KindName: SlowEtcdDisk, On: TargetNone, Validate: floatParam("factor"), Do: slowDisk},
	}
}

func needZone(s *Spec) error {
	if s.Target.Zone == "" {
		return fmt.Errorf("zone-outage needs target.zone")
	}
	return nil
}

// intParam validates an optional integer parameter in [lo, hi].
func intParam(name string, lo, hi int) func(*Spec) error {
	return func(s *Spec) error {
		v, ok := s.Params[name]
		if !ok {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%s: must be an integer in [%d, %d], got %q", name, lo, hi, v)
		}
		return nil
	}
}

func floatParam(name string) func(*Spec) error {
	return func(s *Spec) error {
		v, ok := s.Params[name]
		if !ok {
			return nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			return fmt.Errorf("%s: must be a positive number, got %q", name, v)
		}
		return nil
	}
}

func param(s *Spec, name string, def int) int {
	if v, ok := s.Params[name]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

func nodeCrash(zone bool) func(*Context, Target) (Effect, error) {
	return func(ctx *Context, t Target) (Effect, error) {
		if err := ctx.Cluster.CrashNode(t.Node); err != nil {
			return Effect{}, err
		}
		why := ""
		if zone {
			why = fmt.Sprintf("zone %s is out: ", ctx.Spec.Target.Zone)
		}
		return Effect{
			Expect: why + t.Node + " crashed: its kubelet stops renewing its Lease and its containers died, so the pod addresses stop answering at once " +
				"(kube-proxy keeps routing to them until the EndpointSlices change). The node lifecycle controller marks the node Unknown " +
				"after the 50 s grace period and taints it unreachable:NoExecute; its pods are evicted 300 s later (default toleration) " +
				"and their ReplicaSets replace them elsewhere.",
			Repair: func() (string, error) {
				if err := ctx.Cluster.RepairNode(t.Node); err != nil {
					return "", err
				}
				return t.Node + " is back: a fresh kubelet registers the node again (same name) and renews its Lease; the containers of its old pods are gone.", nil
			},
		}, nil
	}
}

func nodePartition(ctx *Context, t Target) (Effect, error) {
	if err := ctx.Cluster.PartitionNode(t.Node); err != nil {
		return Effect{}, err
	}
	return Effect{
		Expect: t.Node + " is cut from the control plane: its kubelet and kube-proxy cannot reach the apiserver (requests time out), " +
			"but its pods keep running and serving. Its Lease stops being renewed, so after the 50 s grace period the node turns Unknown " +
			"and 300 s later its pods are evicted and replaced, although they still run.",
		Repair: func() (string, error) {
			if err := ctx.Cluster.HealNode(t.Node); err != nil {
				return "", err
			}
			return t.Node + " reaches the apiserver again: the kubelet renews its Lease, its watches relist and catch up.", nil
		},
	}, nil
}

func kubeletStop(ctx *Context, t Target) (Effect, error) {
	if err := ctx.Cluster.StopKubelet(t.Node); err != nil {
		return Effect{}, err
	}
	return Effect{
		Expect: "the kubelet of " + t.Node + " stopped: containers keep running, but nobody renews the Lease, restarts containers or reports status; " +
			"after the 50 s grace period the node turns Unknown.",
		Repair: func() (string, error) {
			if err := ctx.Cluster.RestartKubelet(t.Node); err != nil {
				return "", err
			}
			return "a new kubelet process starts on " + t.Node + " and registers the node again.", nil
		},
	}, nil
}

func containerCrash(ctx *Context, t Target) (Effect, error) {
	code := param(ctx.Spec, "exitCode", 1)
	n, err := ctx.Cluster.CrashContainer(t.Namespace, t.Pod, t.Container, code)
	if err != nil {
		return Effect{}, err
	}
	return Effect{Expect: fmt.Sprintf("%d container(s) of %s/%s crashed with exit code %d: the kubelet restarts them with its back-off "+
		"(10 s doubling to 300 s, reset after 10 min of running); the pod is not ready meanwhile and leaves the Service's endpoints.", n, t.Namespace, t.Pod, code)}, nil
}

func oomKill(ctx *Context, t Target) (Effect, error) {
	n, err := ctx.Cluster.OOMKillContainer(t.Namespace, t.Pod, t.Container)
	if err != nil {
		return Effect{}, err
	}
	return Effect{Expect: fmt.Sprintf("%d container(s) of %s/%s were OOM-killed (exit code 137, reason OOMKilled): the kubelet restarts them with its back-off.", n, t.Namespace, t.Pod)}, nil
}

func pullFailure(ctx *Context, t Target) (Effect, error) {
	if err := ctx.Cluster.SetPullsFail(t.Image, true); err != nil {
		return Effect{}, err
	}
	return Effect{
		Expect: "pulls of " + t.Image + " fail on every node: new pods needing it stay Pending with ErrImagePull, then ImagePullBackOff (10 s doubling to 300 s).",
		Repair: func() (string, error) {
			if err := ctx.Cluster.SetPullsFail(t.Image, false); err != nil {
				return "", err
			}
			return "the registry serves " + t.Image + " again: the next pull attempt after the back-off succeeds.", nil
		},
	}, nil
}

func badVersion(ctx *Context, t Target) (Effect, error) {
	if err := ctx.Cluster.SetNeverReady(t.Image, true); err != nil {
		return Effect{}, err
	}
	return Effect{
		Expect: t.Image + " is a bad version: containers started from it run but never become ready, so a rolling update to it stalls " +
			"(maxUnavailable bounds the damage) until progressDeadlineSeconds (600 s) marks the Deployment as not progressing.",
		Repair: func() (string, error) {
			if err := ctx.Cluster.SetNeverReady(t.Image, false); err != nil {
				return "", err
			}
			return t.Image + " behaves again for containers started from now on.", nil
		},
	}, nil
}

func etcdMemberLoss(ctx *Context, _ Target) (Effect, error) {
	want := param(ctx.Spec, "members", 1)
	followers := ctx.Cluster.EtcdFollowers()
	if len(followers) == 0 {
		return Effect{}, fmt.Errorf("no running etcd follower to lose")
	}
	var lost []int
	for i := len(followers) - 1; i >= 0 && len(lost) < want; i-- {
		if _, err := ctx.Cluster.EtcdLoseMember(followers[i]); err != nil {
			return Effect{}, err
		}
		lost = append(lost, followers[i])
	}
	expect := fmt.Sprintf("etcd lost member(s) %v: ", lost)
	if ctx.Cluster.EtcdQuorum() {
		expect += "a quorum still runs, so writes go on, their latency now set by the remaining members."
	} else {
		expect += "the cluster lost its quorum: every write and consistent read through the apiserver fails after the 60 s request timeout, " +
			"so no component can change anything (leases are not renewed) until members come back."
	}
	return Effect{
		Expect: expect,
		Repair: func() (string, error) {
			var resume string
			for i := len(lost) - 1; i >= 0; i-- {
				at, err := ctx.Cluster.EtcdRestoreMember(lost[i])
				if err != nil {
					return "", err
				}
				if at > ctx.Eng.Now() {
					resume = fmt.Sprintf("; a leader is elected and writes resume at %.3fs", at.Seconds())
				}
			}
			return fmt.Sprintf("etcd member(s) %v restarted%s.", lost, resume), nil
		},
	}, nil
}

func etcdLeaderLoss(ctx *Context, _ Target) (Effect, error) {
	m, resume, err := ctx.Cluster.EtcdLoseLeader()
	if err != nil {
		return Effect{}, err
	}
	expect := fmt.Sprintf("the etcd leader (member %d) died: ", m)
	if ctx.Cluster.EtcdQuorum() {
		expect += fmt.Sprintf("followers notice after their randomized election timeout (1000–2000 ms) and elect a new leader; writes stall for %.3fs, then commit. Nothing committed is lost.",
			resume.Sub(ctx.Eng.Now()).Seconds())
	} else {
		expect += "no quorum is left: writes and consistent reads fail until a member comes back."
	}
	return Effect{
		Expect: expect,
		Repair: func() (string, error) {
			if _, err := ctx.Cluster.EtcdRestoreMember(m); err != nil {
				return "", err
			}
			return fmt.Sprintf("etcd member %d restarted and rejoined as a follower.", m), nil
		},
	}, nil
}

func apiserverOutage(ctx *Context, _ Target) (Effect, error) {
	if err := ctx.Cluster.SetAPIServerAvailable(false); err != nil {
		return Effect{}, err
	}
	return Effect{
		Expect: "the apiserver is down: every request fails (ServiceUnavailable) and watches deliver nothing; running pods keep serving, " +
			"but nothing is scheduled, started or updated, and Leases are not renewed.",
		Repair: func() (string, error) {
			if err := ctx.Cluster.SetAPIServerAvailable(true); err != nil {
				return "", err
			}
			return "the apiserver is back: components' watches relist and catch up on what changed, failed requests are retried.", nil
		},
	}, nil
}

func slowDisk(ctx *Context, _ Target) (Effect, error) {
	factor := 10.0
	if v, ok := ctx.Spec.Params["factor"]; ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			factor = f
		}
	}
	if err := ctx.Cluster.EtcdSetFsyncFactor(factor); err != nil {
		return Effect{}, err
	}
	return Effect{
		Expect: fmt.Sprintf("etcd's disks are %g× slower: every WAL fsync, hence every write, takes longer (etcd wants p99 fsync under 10 ms); apiserver writes slow down accordingly.", factor),
		Repair: func() (string, error) {
			if err := ctx.Cluster.EtcdSetFsyncFactor(1); err != nil {
				return "", err
			}
			return "etcd's disks are back to normal speed.", nil
		},
	}, nil
}

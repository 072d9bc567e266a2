//go:build kubescheduler

package kubescheduler

import (
	"fmt"
	"strconv"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
)

// mirror keeps the upstream scheduler cache and informer stores equal to kubesim's
// cluster, one watch event at a time (never a whole-cluster rebuild per decision).
//
// Nodes and pods come from the kubesim scheduler's own informers (scheduler
// AddEventHandlers): the same events, in the same order, that build kubesim's
// cache, so at every scheduling cycle both caches hold the same nodes and pods.
// Services, ReplicaSets, StatefulSets (system-default topology spreading),
// PersistentVolumeClaims, PersistentVolumes and StorageClasses (volume plug-ins)
// come from the policy's own informers on the scheduler's apiserver client.
// Namespaces (InterPodAffinity's namespaceSelector) are synthesized from the pods'
// namespaces, with the kubernetes.io/metadata.name label the apiserver sets.
// PodDisruptionBudgets come from the kubesim scheduler's own budget informer
// (AddEventHandlers; it runs only when the run has budgets), so upstream's
// preemption lists exactly the budgets, at the same status, that kubesim's
// DefaultPreemption sees. kubesim models no CSINodes or ResourceClaims: those
// stores stay empty.
type mirror struct {
	u *upstream
	// pods are the converted pods by UID (the last state seen), kpods the kubesim
	// objects (for preemption victims); nodes the converted nodes by name.
	pods       map[api.UID]*v1.Pod
	kpods      map[types.NamespacedName]*api.Pod
	nodes      map[string]*v1.Node
	namespaces map[string]bool
	// assumed are the pods the policy assumed and the watch has not shown bound.
	assumed map[api.UID]*v1.Pod
	// err is the first inconsistency met (surfaced by the policy's Err).
	err error
	// others are the policy's own informers (kept alive).
	others []*apiserver.Informer
}

func newMirror(u *upstream) *mirror {
	return &mirror{u: u, pods: map[api.UID]*v1.Pod{}, kpods: map[types.NamespacedName]*api.Pod{}, nodes: map[string]*v1.Node{},
		namespaces: map[string]bool{}, assumed: map[api.UID]*v1.Pod{}}
}

func (m *mirror) fail(err error) {
	if err != nil && m.err == nil {
		m.err = fmt.Errorf("kube-scheduler %s cache: %w", Version, err)
	}
}

func (m *mirror) storeOf(kind api.Kind) cache.Store {
	f := m.u.factory
	switch kind {
	case api.KindNode:
		return f.Core().V1().Nodes().Informer().GetStore()
	case api.KindPod:
		return f.Core().V1().Pods().Informer().GetStore()
	case api.KindService:
		return f.Core().V1().Services().Informer().GetStore()
	case api.KindReplicaSet:
		return f.Apps().V1().ReplicaSets().Informer().GetStore()
	case api.KindStatefulSet:
		return f.Apps().V1().StatefulSets().Informer().GetStore()
	case api.KindPersistentVolumeClaim:
		return f.Core().V1().PersistentVolumeClaims().Informer().GetStore()
	case api.KindPersistentVolume:
		return f.Core().V1().PersistentVolumes().Informer().GetStore()
	case api.KindStorageClass:
		return f.Storage().V1().StorageClasses().Informer().GetStore()
	case api.KindPodDisruptionBudget:
		return f.Policy().V1().PodDisruptionBudgets().Informer().GetStore()
	}
	return nil
}

// ---------------------------------------------------------------------------
// Nodes and pods (the scheduler's informers)

func (m *mirror) nodeHandlers() apiserver.Handlers {
	return apiserver.Handlers{OnAdd: m.nodeAdd, OnUpdate: func(_, cur api.Object) { m.nodeAdd(cur) }, OnDelete: m.nodeDelete}
}

func (m *mirror) nodeAdd(obj api.Object) {
	n := ConvertNode(obj.(*api.Node))
	st := m.storeOf(api.KindNode)
	if old, ok := m.nodes[n.Name]; ok {
		m.u.cache.UpdateNode(m.u.logger, old, n)
		m.fail(st.Update(n))
	} else {
		m.u.cache.AddNode(m.u.logger, n)
		m.fail(st.Add(n))
	}
	m.nodes[n.Name] = n
}

func (m *mirror) nodeDelete(obj api.Object) {
	name := obj.Meta().Name
	old, ok := m.nodes[name]
	if !ok {
		return
	}
	delete(m.nodes, name)
	m.fail(m.u.cache.RemoveNode(m.u.logger, old))
	m.fail(m.storeOf(api.KindNode).Delete(old))
}

func (m *mirror) podHandlers() apiserver.Handlers {
	return apiserver.Handlers{OnAdd: m.podAdd, OnUpdate: func(_, cur api.Object) { m.podAdd(cur) }, OnDelete: m.podDelete}
}

func (m *mirror) ensureNamespace(ns string) {
	if ns == "" || m.namespaces[ns] {
		return
	}
	m.namespaces[ns] = true
	o := &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"kubernetes.io/metadata.name": ns}}}
	m.fail(m.u.factory.Core().V1().Namespaces().Informer().GetStore().Add(o))
}

func (m *mirror) podAdd(obj api.Object) {
	kp := obj.(*api.Pod)
	p := ConvertPod(kp)
	m.ensureNamespace(p.Namespace)
	uid := kp.UID
	old, known := m.pods[uid]
	st := m.storeOf(api.KindPod)
	if known {
		m.fail(st.Update(p))
	} else {
		m.fail(st.Add(p))
	}
	m.pods[uid] = p
	m.kpods[types.NamespacedName{Namespace: kp.Namespace, Name: kp.Name}] = kp
	if p.Spec.NodeName == "" {
		return
	}
	switch {
	case m.assumed[uid] != nil:
		delete(m.assumed, uid)
		m.fail(m.u.cache.AddPod(m.u.logger, p)) // confirms the assumed pod
	case known && old.Spec.NodeName != "":
		m.fail(m.u.cache.UpdatePod(m.u.logger, old, p))
	default:
		m.fail(m.u.cache.AddPod(m.u.logger, p))
	}
}

func (m *mirror) podDelete(obj api.Object) {
	kp := obj.(*api.Pod)
	uid := kp.UID
	old, known := m.pods[uid]
	if !known {
		return
	}
	delete(m.pods, uid)
	delete(m.kpods, types.NamespacedName{Namespace: kp.Namespace, Name: kp.Name})
	m.fail(m.storeOf(api.KindPod).Delete(old))
	if a := m.assumed[uid]; a != nil {
		delete(m.assumed, uid)
		m.fail(m.u.cache.RemoveAssumedPod(m.u.logger, a))
		return
	}
	if old.Spec.NodeName != "" {
		m.fail(m.u.cache.RemovePod(m.u.logger, old))
	}
}

// assume records the policy's decision in the upstream cache, as kube-scheduler's
// assume does (kubesim assumes the same pod on the same node in its own cache when
// the cycle ends). A pod assumed earlier whose binding failed (kubesim forgot it
// and retries) is forgotten first.
func (m *mirror) assume(p *v1.Pod, node string) {
	m.forget(api.UID(p.UID))
	a := p.DeepCopy()
	a.Spec.NodeName = node
	if err := m.u.cache.AssumePod(m.u.logger, a); err != nil {
		m.fail(err)
		return
	}
	m.assumed[api.UID(p.UID)] = a
}

// forget undoes an assumption that the watch never confirmed.
func (m *mirror) forget(uid api.UID) {
	if a := m.assumed[uid]; a != nil {
		delete(m.assumed, uid)
		m.fail(m.u.cache.ForgetPod(m.u.logger, a))
	}
}

// ---------------------------------------------------------------------------
// PodDisruptionBudgets (the scheduler's informer)

func (m *mirror) pdbHandlers() apiserver.Handlers {
	put := func(o api.Object) {
		v := ConvertPDB(o.(*api.PodDisruptionBudget))
		st := m.storeOf(api.KindPodDisruptionBudget)
		if _, exists, _ := st.Get(v); exists {
			m.fail(st.Update(v))
		} else {
			m.fail(st.Add(v))
		}
	}
	return apiserver.Handlers{
		OnAdd:    put,
		OnUpdate: func(_, cur api.Object) { put(cur) },
		OnDelete: func(o api.Object) {
			m.fail(m.storeOf(api.KindPodDisruptionBudget).Delete(ConvertPDB(o.(*api.PodDisruptionBudget))))
		},
	}
}

// ---------------------------------------------------------------------------
// The other kinds (the policy's own informers)

func (m *mirror) watchOthers(c *apiserver.Client) {
	for _, kind := range []api.Kind{api.KindService, api.KindReplicaSet, api.KindStatefulSet, api.KindPersistentVolumeClaim, api.KindPersistentVolume, api.KindStorageClass} {
		k := kind
		put := func(o api.Object) {
			v := convertOther(o)
			if v == nil {
				return
			}
			st := m.storeOf(k)
			if _, exists, _ := st.Get(v); exists {
				m.fail(st.Update(v))
			} else {
				m.fail(st.Add(v))
			}
		}
		m.others = append(m.others, apiserver.NewInformer(c, k, apiserver.InformerOptions{}, apiserver.Handlers{
			OnAdd:    put,
			OnUpdate: func(_, cur api.Object) { put(cur) },
			OnDelete: func(o api.Object) {
				if v := convertOther(o); v != nil {
					m.fail(m.storeOf(k).Delete(v))
				}
			},
		}))
	}
}

func convertOther(o api.Object) any {
	switch x := o.(type) {
	case *api.Service:
		return ConvertService(x)
	case *api.ReplicaSet:
		return ConvertReplicaSet(x)
	case *api.StatefulSet:
		return ConvertStatefulSet(x)
	case *api.PersistentVolumeClaim:
		return ConvertPVC(x)
	case *api.PersistentVolume:
		return ConvertPV(x)
	case *api.StorageClass:
		return ConvertStorageClass(x)
	}
	return nil
}

// podOf returns the converted pod as last seen by the watch when it is the same
// version, else converts it now.
func (m *mirror) podOf(p *api.Pod) *v1.Pod {
	if v := m.pods[p.UID]; v != nil && v.ResourceVersion == strconv.FormatInt(p.ResourceVersion, 10) {
		return v
	}
	return ConvertPod(p)
}

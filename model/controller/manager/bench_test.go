package manager

import (
	"fmt"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

// fakeNodes plays the scheduler and the kubelets for benchmarks: a new pod is bound
// at once to one of n nodes and reported Running and Ready with an IP.
func fakeNodes(eng *sim.Engine, srv *apiserver.Server, n int) {
	c := srv.Client("fake-nodes", 0, 0)
	seq := 0
	apiserver.NewInformer(c, api.KindPod, apiserver.InformerOptions{}, apiserver.Handlers{
		OnAdd: func(o api.Object) {
			p := o.(*api.Pod)
			if p.Spec.NodeName != "" {
				return
			}
			seq++
			ip := fmt.Sprintf("10.%d.%d.%d", seq/65536, seq/256%256, seq%256)
			node := api.NodeName(fmt.Sprintf("node-%d", seq%n))
			c.Bind(&api.Binding{PodNamespace: p.Namespace, PodName: p.Name, PodUID: p.UID, Target: node}, func(err error) {
				if err != nil {
					return
				}
				np := p.DeepCopy()
				np.Spec.NodeName = node
				np.Status.Phase = api.PodRunning
				np.Status.PodIP = ip
				np.SetCondition(api.PodReady, api.ConditionTrue, "", eng.Now())
				np.ResourceVersion = 0
				c.UpdateStatus(np, nil)
			})
		},
	})
}

type countingTel struct{ recs, reached int }

func (c *countingTel) Trace(r sim.Record) {
	c.recs++
	if r.Step == 7 && r.Component == "controller-manager/deployment" {
		c.reached++
	}
}
func (c *countingTel) Observe(string, sim.Time, float64) {}
func (c *countingTel) Gauge(string, sim.Time, float64)   {}

// BenchmarkDeployments deploys 50 Deployments of 100 replicas, each with a Service,
// with no client rate limit, and runs until every Deployment is available.
func BenchmarkDeployments(b *testing.B) {
	for i := 0; i < b.N; i++ {
		eng := sim.New(uint64(i))
		reg := dist.NewRegistry()
		tel := &countingTel{}
		st, _ := etcd.New(eng, etcd.DefaultConfig(), reg)
		srv, _ := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, tel)
		cfg := DefaultConfig()
		cfg.QPS = 0
		m, err := New(eng, srv, cfg, reg, tel)
		if err != nil {
			b.Fatal(err)
		}
		m.Start()
		fakeNodes(eng, srv, 100)
		user := srv.Client("user", 0, 0)
		const n, replicas = 50, 100
		for j := 0; j < n; j++ {
			d := nginxDeployment(replicas)
			d.Name = fmt.Sprintf("web-%d", j)
			d.Spec.Selector.MatchLabels = map[string]string{"app": d.Name}
			d.Spec.Template.Labels = map[string]string{"app": d.Name}
			user.Create(d, nil)
			user.Create(&api.Service{ObjectMeta: api.ObjectMeta{Name: d.Name, Namespace: "default"},
				Spec: api.ServiceSpec{Selector: map[string]string{"app": d.Name}, Ports: []api.ServicePort{{Port: 80}}}}, nil)
		}
		eng.RunUntil(sim.Time(2 * time.Minute))
		if tel.reached != n {
			b.Fatalf("%d of %d Deployments reached their desired state", tel.reached, n)
		}
		b.ReportMetric(float64(eng.Fired())/float64(n*replicas), "events/pod")
	}
}

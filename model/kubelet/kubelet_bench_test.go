package kubelet

import (
	"fmt"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/runtime"
)

// BenchmarkPodLifecycle measures the wall time of the whole path for 100 pods on
// one node: watch delivery, admission, sandbox, container start, status writes
// through the modeled apiserver and etcd, then graceful deletion. It reports pods
// per wall-clock second (start plus delete).
func BenchmarkPodLifecycle(b *testing.B) {
	const pods = 100
	for b.Loop() {
		e := newEnv(b, 1, func(_ *Config, rc *runtime.ModeledConfig) { rc.Preloaded = append(rc.Preloaded, "nginx:1.27") })
		for i := 0; i < pods; i++ {
			e.user.Create(nginxPod(fmt.Sprintf("web-%d", i)), nil)
		}
		e.run(30 * time.Second)
		for i := 0; i < pods; i++ {
			e.user.Delete(api.KindPod, "default", fmt.Sprintf("web-%d", i), apiserver.DeleteOptions{}, nil)
		}
		e.run(30 * time.Second)
		if len(e.k.pods) != 0 {
			b.Fatalf("%d pods left", len(e.k.pods))
		}
	}
	b.ReportMetric(float64(pods*b.N)/b.Elapsed().Seconds(), "pods/s")
}

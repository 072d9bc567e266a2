// Package informers is kube-controller-manager's shared informer factory: one
// informer per kind, shared by every controller of the process, as client-go's
// SharedInformerFactory does. Sharing keeps one watch per kind on the apiserver
// (and one cache) however many controllers read the kind.
package informers

import (
	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
)

// Factory hands out shared informers. Informers are created on first use and index
// their objects by controller owner (apiserver.InformerOptions.IndexByOwner).
type Factory struct {
	client *apiserver.Client
	infs   [api.NumKinds]*apiserver.Informer
}

// NewFactory returns a factory whose informers watch through client.
func NewFactory(client *apiserver.Client) *Factory { return &Factory{client: client} }

// Informer returns the shared informer of kind, starting its watch on first use, and
// registers h on it. Objects the informer already holds are replayed to h.OnAdd in
// key order first, as client-go does for handlers added to a running informer.
func (f *Factory) Informer(kind api.Kind, h apiserver.Handlers) *apiserver.Informer {
	inf := f.infs[kind]
	if inf == nil {
		inf = apiserver.NewInformer(f.client, kind, apiserver.InformerOptions{IndexByOwner: true}, h)
		f.infs[kind] = inf
		return inf
	}
	if h.OnAdd != nil {
		for _, o := range inf.List() {
			h.OnAdd(o)
		}
	}
	inf.AddHandlers(h)
	return inf
}

// WhenSynced calls fn once every informer has delivered its initial objects (at
// once if they all have).
func WhenSynced(fn func(), infs ...*apiserver.Informer) {
	left := len(infs)
	if left == 0 {
		fn()
		return
	}
	for _, inf := range infs {
		inf.OnSynced(func() {
			left--
			if left == 0 {
				fn()
			}
		})
	}
}

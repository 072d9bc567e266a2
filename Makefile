# kubesim — see README.md. Go is the only prerequisite.
GO      ?= go
BIN     := bin/kubesim
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build build-kubescheduler run test test-kubescheduler test-race bench bench-scale lint clean nginx-image

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/kubesim

## build-kubescheduler: kubesim with the kube-scheduler-v1.37 policy and kubesim fidelity
## (links k8s.io/kubernetes: a much longer cold build, docs/kube-scheduler.md)
build-kubescheduler:
	$(GO) build -tags kubescheduler -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/kubesim

## run: build, then run the built-in nginx scenario with the seven-step narration
run: build
	./$(BIN) run nginx --trace steps

## nginx-image: build the local image kubesim/nginx:1.22 real runs use, from Debian's
## nginx package (apt-get install -y nginx); does nothing if the image exists
nginx-image:
	$(GO) run ./cmd/kubesim real image

## test: every test; the engine, apiserver and determinism tests also under -race.
## The Docker-backed real-run tests skip loudly without Docker and the local nginx
## image (make nginx-image), or fail with KUBESIM_REQUIRE_DOCKER=1 (as in CI). The
## -race pass skips cmd's TestReal*: they run a kubesim binary built without -race.
## The real validation and calibration test times real containers against the
## model, so it runs alone, after the others: not while other packages' tests
## load the CPUs.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -skip '^TestRealValidateKillCalibrate$$' ./...
	$(GO) test -count=1 -run '^TestRealValidateKillCalibrate$$' ./cmd/kubesim/
	$(GO) test -count=1 -race -skip '^TestReal' ./sim/... ./model/apiserver/... ./model/etcd/... ./model/cluster/... ./cmd/...

## test-kubescheduler: the tests of the kube-scheduler-v1.37 policy and kubesim
## fidelity (build tag kubescheduler: links k8s.io/kubernetes, a cold build of several
## minutes, so it is its own target; .ci/run runs it after make test)
## (cmd/kubesim: only the tests the tag adds; make test ran the others).
test-kubescheduler:
	$(GO) vet -tags kubescheduler ./model/kubescheduler/ ./model/cluster/ ./cmd/kubesim/
	$(GO) test -count=1 -tags kubescheduler ./model/kubescheduler/ ./model/cluster/
	$(GO) test -count=1 -tags kubescheduler -run 'KubeScheduler|Fidelity' ./cmd/kubesim/

## bench: the engine (events/s, allocations per event), the components, and whole
## clusters (the nginx scenario; 500 and 5,000 nodes, pods created to ready)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./sim/...
	$(GO) test -run '^$$' -bench . -benchmem ./model/scheduler/... ./model/proxy/... ./model/traffic/... ./model/kubelet/... ./model/controller/...
	$(GO) test -run '^$$' -bench Nginx -benchmem ./model/cluster/
	$(GO) test -run '^$$' -bench 'Scale/nodes=(500|5000)/pods=(5000|20000)$$' -benchmem -benchtime 1x -timeout 30m ./model/cluster/
	$(MAKE) bench-scale

## bench-scale: issue 3's performance targets, each in its own process (peak RSS is
## per process): 150,000 pods onto 5,000 nodes with the default profile, created to
## ready (pods/s, pods/cpu-s, peak-RSS-MB), and the whole Alibaba GPU v2023 trace
## replayed (ns/op, cpu-s/op, peak-RSS-MB; skipped without the trace files: set
## KUBESIM_TRACES to their folder when they are not in ../shared/traces)
## (BENCHFLAGS=-cpu=1 runs each on one core, garbage collector included)
bench-scale:
	$(GO) test -run '^$$' -bench 'Scale/nodes=5000/pods=150000$$' -benchtime 1x -timeout 60m $(BENCHFLAGS) ./model/cluster/
	$(GO) test -run '^$$' -bench ReplayAlibabaTrace -benchtime 1x -timeout 30m $(BENCHFLAGS) ./model/workload/
	$(GO) test -tags kubescheduler -run '^$$' -bench KubeSchedulerVsKubesim -benchtime 1x -timeout 30m $(BENCHFLAGS) ./model/kubescheduler/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin

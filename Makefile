# kubesim — see README.md. Go is the only prerequisite.
GO      ?= go
BIN     := bin/kubesim
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build build-kubescheduler run test test-race bench lint clean

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

## test: every test; the engine, apiserver and determinism tests also under -race
test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race ./sim/... ./model/apiserver/... ./model/etcd/... ./model/cluster/... ./cmd/...
	$(GO) vet -tags kubescheduler ./model/kubescheduler/ ./model/cluster/ ./cmd/kubesim/
	$(GO) test -count=1 -tags kubescheduler ./model/kubescheduler/ ./model/cluster/ ./cmd/kubesim/

## bench: the engine (events/s, allocations per event), the components, and whole
## clusters (the nginx scenario; 500 and 5,000 nodes, pods created to ready)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./sim/...
	$(GO) test -run '^$$' -bench . -benchmem ./model/scheduler/... ./model/proxy/... ./model/traffic/... ./model/kubelet/... ./model/controller/...
	$(GO) test -run '^$$' -bench Nginx -benchmem ./model/cluster/
	$(GO) test -run '^$$' -bench Scale -benchmem -benchtime 1x -timeout 30m ./model/cluster/
	$(GO) test -tags kubescheduler -run '^$$' -bench KubeSchedulerVsKubesim -benchtime 1x -timeout 30m ./model/kubescheduler/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin

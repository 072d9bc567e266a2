// Package narrate holds the teaching texts of the Nginx flow in English and Chinese:
// the titles of the seven steps, the classic description of each step, what kubesim
// shows instead, the names of the components and the words of the interactive
// timeline. The Chinese uses the terms of the classic description teachers use
// (Master, Node, Etcd, API Server, Scheduler, Kubelet, Docker, Kube-Proxy,
// Controller-Manager, Pod).
package narrate

import (
	"fmt"
	"strings"
)

// Lang is a narration language.
type Lang string

// The supported languages.
const (
	EN Lang = "en"
	ZH Lang = "zh"
)

// Langs lists the supported languages.
var Langs = []Lang{EN, ZH}

// ParseLang recognizes "en" and "zh" (also "zh-CN", "cn", "english", "chinese").
func ParseLang(s string) (Lang, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "en", "en-us", "en-gb", "english":
		return EN, nil
	case "zh", "zh-cn", "zh-hans", "cn", "chinese":
		return ZH, nil
	}
	return "", fmt.Errorf("unknown language %q: want en or zh", s)
}

// Step is the teaching text of one of the seven steps.
type Step struct {
	N       int
	Title   string // short title
	Classic string // what the classic description says
	Explain string // what really happens, as kubesim models it
	Watch   string // what to look at in the trace
}

// Steps returns the seven steps in lang.
func Steps(lang Lang) []Step {
	if lang == ZH {
		return stepsZH
	}
	return stepsEN
}

// StepOf returns step n (1..7) in lang; ok is false for other n.
func StepOf(lang Lang, n int) (Step, bool) {
	if n < 1 || n > 7 {
		return Step{}, false
	}
	return Steps(lang)[n-1], true
}

var stepsEN = []Step{
	{1, "Master and Nodes store their information in etcd",
		"When Kubernetes starts, the Master and the Nodes store their information in the etcd database.",
		"etcd elects a leader. Each node's kubelet POSTs its Node object and its Lease to the API server, the only component that talks to etcd; the API server commits them to etcd (/registry/minions/<node>, /registry/leases/kube-node-lease/<node>) after the leader's disk sync and a quorum round trip. The kubelet then renews its Lease every 10 s: that is the node's heartbeat.",
		"the etcd commits of the Node and Lease objects, a few milliseconds after the kubelets start."},
	{2, "The request to install Nginx reaches the API server",
		"The request to install Nginx is first sent to the API Server on the Master.",
		"kubectl POSTs a Deployment and a Service. The API server authenticates, defaults and validates them and stores them in etcd. Nobody is called: the controller-manager's deployment controller is watching Deployments, sees the new one and creates a ReplicaSet; the replicaset controller, watching ReplicaSets, creates the Pods in slow-start batches (1, 2, 4 …). Every object passes through the API server into etcd.",
		"kubectl → API server → etcd, then a watch event to the controller-manager, which writes the ReplicaSet and the Pods the same way."},
	{3, "The scheduler picks a node and writes the decision",
		"The API Server calls the Scheduler, which reads the Nodes' information from etcd, picks a node with its algorithm and writes the decision to etcd.",
		"The API server does not call the scheduler. The scheduler watches pods that have no node yet (and the nodes, in its own cache), runs the filter plug-ins (does the pod fit? taints? affinity?) and the score plug-ins (least allocated, balanced allocation, image locality …) and POSTs a Binding. The API server writes spec.nodeName into the pod in etcd.",
		"the scheduler's filter/score/bind records and the etcd commit of each binding."},
	{4, "The node's kubelet learns of the pod",
		"The API Server then calls the Kubelet on the chosen Node and tells it to install Nginx.",
		"The kubelet of each node keeps a watch on the API server for pods whose spec.nodeName is its node. The commit of the binding is delivered through that watch: the kubelet learns of the pod within milliseconds and admits it (does it fit the node's allocatable resources?).",
		"the arrow from the API server to the kubelet right after the binding's etcd commit."},
	{5, "The kubelet has Docker start the Nginx pod",
		"The Kubelet tells Docker to start an Nginx Pod. A Pod is the smallest unit Kubernetes deploys; containers must run in a Pod.",
		"The kubelet creates the pod sandbox (the pause container and the pod IP from the network plug-in), asks the container runtime to pull the image (its size over the bandwidth, unless the node already has it), to create and to start the container, runs the readiness probe, and PATCHes the pod status (Running, Ready) through the API server into etcd. The image pull is usually the longest part of the whole flow.",
		"the long gap between docker's pull and pulled: the image download."},
	{6, "Users reach Nginx through kube-proxy",
		"Once Nginx runs, users reach the Pod through the Kube-Proxy proxy and so the Nginx service in the cluster.",
		"The endpointslice controller (in the controller-manager) watches pods and Services and writes the IPs of the ready pods into an EndpointSlice. Every node's kube-proxy watches EndpointSlices and programs its rules (iptables: a random choice among the endpoints; IPVS: round-robin), at most once per minSyncPeriod (1 s). A client's request then goes through its node's kube-proxy rules to one of the pods.",
		"the EndpointSlice commits and the kube-proxy 'program' records on every node."},
	{7, "The controller-manager keeps the desired state",
		"The Controller-Manager watches the state of the cluster and makes sure it reaches the desired state: its controllers keep the Nodes as expected, maintain the number of Pods, and so on.",
		"The replicaset and deployment controllers see the ready pods through their watches and record in the objects' status that the observed state equals the desired state (3/3 replicas available). From now on the same loops replace lost pods and scale: if a node dies, the node lifecycle controller marks it NotReady after 50 s without heartbeats, its pods are evicted after the default 300 s toleration, and the replicaset controller creates replacements.",
		"the status updates of the ReplicaSet and the Deployment: observed == desired."},
}

var stepsZH = []Step{
	{1, "Master 和 Node 将自身信息存储到 Etcd",
		"`Kubernetes`环境启动后，`Master`和`Node`节点会将自身信息存储到`Etcd`数据库中。",
		"Etcd 选出 leader。每个 Node 上的 Kubelet 把自己的 Node 对象和 Lease（租约）POST 给 API Server——只有 API Server 直接访问 Etcd；API Server 在 leader 刷盘并完成多数派（quorum）往返后，把它们写入 Etcd（/registry/minions/<节点>、/registry/leases/kube-node-lease/<节点>）。此后 Kubelet 每 10 秒续约一次 Lease，这就是 Node 的心跳。",
		"Kubelet 启动几毫秒后，Node 和 Lease 对象在 Etcd 中的提交（commit）。"},
	{2, "安装 Nginx 的请求发送到 API Server",
		"安装`Nginx`的请求首先发送到`Master`节点的`API Server`组件。",
		"kubectl 向 API Server POST 一个 Deployment 和一个 Service。API Server 对它们进行认证、补全默认值、校验，然后存入 Etcd。这里没有谁“调用”谁：Controller-Manager 中的 deployment 控制器一直在监听（watch）Deployment，看到新对象后创建 ReplicaSet；replicaset 控制器监听 ReplicaSet，分批（1、2、4……慢启动）创建 Pod。每个对象都经过 API Server 写入 Etcd。",
		"kubectl → API Server → Etcd，然后一个监听事件送到 Controller-Manager，它再以同样的方式写入 ReplicaSet 和 Pod。"},
	{3, "Scheduler 选择 Node 并写入调度决策",
		"`API Server`调用`Scheduler`组件，以决定将服务安装到哪个`Node`节点上。`Scheduler`从`Etcd`中读取`Node`节点的信息，按照特定算法选择目标节点，将决策写入`Etcd`并通知`API Server`。",
		"实际上 API Server 并不调用 Scheduler。Scheduler 监听还没有分配节点的 Pod（并在自己的缓存中保存 Node 信息），运行过滤（filter）插件（资源是否足够？污点？亲和性？）和打分（score）插件（最少分配、均衡分配、镜像本地性……），然后 POST 一个 Binding。API Server 把 spec.nodeName 写入 Etcd 中的 Pod。",
		"Scheduler 的 filter/score/bind 记录，以及每个 Binding 在 Etcd 中的提交。"},
	{4, "目标 Node 上的 Kubelet 得知 Pod",
		"`API Server`接着调用目标`Node`节点上的`Kubelet`，指示其在该`Node`上安装`Nginx`服务。",
		"每个 Node 的 Kubelet 都在 API Server 上监听 spec.nodeName 等于本节点的 Pod。Binding 提交后，通过这个监听（watch）送到 Kubelet：Kubelet 在几毫秒内得知这个 Pod，并进行准入检查（Node 的可分配资源是否容纳得下？）。",
		"Binding 在 Etcd 提交之后，从 API Server 指向 Kubelet 的箭头。"},
	{5, "Kubelet 通知 Docker 启动 Nginx 的 Pod",
		"`Kubelet`接收到指令后，通知`Docker`启动一个`Nginx`的`Pod`。`Pod`是`Kubernetes`的最小部署单元，容器必须运行在`Pod`中。",
		"Kubelet 创建 Pod 沙箱（pause 容器和网络插件分配的 Pod IP），让容器运行时 Docker 拉取镜像（镜像大小除以带宽；Node 上已有镜像则不用拉取）、创建并启动容器，执行就绪探针（readiness probe），再通过 API Server 把 Pod 状态（Running、Ready）写入 Etcd。拉取镜像通常是整个流程中最慢的部分。",
		"Docker 的 pull 与 pulled 之间的长间隔：下载镜像。"},
	{6, "用户通过 Kube-Proxy 访问 Nginx",
		"`Nginx`服务成功运行后，外部用户可以通过`Kube-Proxy`代理访问`Pod`，从而访问集群中的`Nginx`服务。",
		"Controller-Manager 中的 endpointslice 控制器监听 Pod 和 Service，把就绪 Pod 的 IP 写入 EndpointSlice。每个 Node 上的 Kube-Proxy 监听 EndpointSlice 并更新转发规则（iptables：在端点中随机选择；IPVS：轮询），最多每个 minSyncPeriod（1 秒）一次。客户端的请求经过本节点 Kube-Proxy 的规则转发到某个 Pod。",
		"EndpointSlice 的提交，以及每个 Node 上 Kube-Proxy 的 program 记录。"},
	{7, "Controller-Manager 保持期望状态",
		"`Controller-Manager`负责监控集群状态，并确保系统达到预期状态。它包含不同的控制器，保证`Node`节点的状态符合预期，维护`Pod`的数量等。",
		"replicaset 和 deployment 控制器通过监听看到 Pod 已就绪，并在对象的 status 中记录：观察到的状态等于期望状态（3/3 个副本可用）。此后同样的控制循环负责替换丢失的 Pod 和扩缩容：如果一个 Node 宕机，节点生命周期控制器在 50 秒没有心跳后把它标记为 NotReady，默认 300 秒容忍时间过后驱逐其上的 Pod，replicaset 控制器再创建新的 Pod。",
		"ReplicaSet 和 Deployment 的 status 更新：观察到的状态 == 期望状态。"},
}

// Lanes are the components of the timeline, top to bottom: the user (kubectl and
// clients) and the seven components of the classic description.
var Lanes = []string{"user", "etcd", "apiserver", "scheduler", "controller-manager", "kubelet", "docker", "kube-proxy"}

// LaneOf maps a trace component ("kubelet/node-2", "controller-manager/deployment",
// "client/clients", "kubectl" …) to its lane; "" when it has none.
func LaneOf(component string) string {
	base, _, _ := strings.Cut(component, "/")
	switch base {
	case "kubectl", "client", "user":
		return "user"
	case "etcd", "apiserver", "scheduler", "controller-manager", "kubelet", "docker", "kube-proxy":
		return base
	case "runtime", "containerd":
		return "docker"
	case "kube-apiserver":
		return "apiserver"
	case "kube-scheduler":
		return "scheduler"
	case "kube-controller-manager":
		return "controller-manager"
	}
	return ""
}

// LaneName is the display name of a lane in lang.
func LaneName(lang Lang, lane string) string {
	if lang == ZH {
		switch lane {
		case "user":
			return "用户 (kubectl)"
		case "etcd":
			return "Etcd"
		case "apiserver":
			return "API Server"
		case "scheduler":
			return "Scheduler"
		case "controller-manager":
			return "Controller-Manager"
		case "kubelet":
			return "Kubelet"
		case "docker":
			return "Docker"
		case "kube-proxy":
			return "Kube-Proxy"
		}
		return lane
	}
	switch lane {
	case "user":
		return "user (kubectl)"
	case "apiserver":
		return "kube-apiserver"
	case "scheduler":
		return "kube-scheduler"
	case "controller-manager":
		return "kube-controller-manager"
	}
	return lane
}

// Word returns a word of the user interface in lang.
func Word(lang Lang, key string) string {
	m := wordsEN
	if lang == ZH {
		m = wordsZH
	}
	if s, ok := m[key]; ok {
		return s
	}
	return wordsEN[key]
}

var wordsEN = map[string]string{
	"step":          "Step",
	"classic":       "The classic description",
	"really":        "What really happens",
	"look":          "Look at",
	"etcd-at":       "Objects stored in etcd at t=%s (end of this step)",
	"timeline":      "The Nginx flow, component by component",
	"timeline-help": "Each lane is a component; each arrow a message (a request to the API server, an etcd commit, a watch delivery, a call to the container runtime). Click a step marker to see its explanation and what etcd holds at that moment.",
	"request":       "request",
	"commit":        "commit",
	"watch":         "watch event",
	"response":      "response",
	"press-enter":   "Press Enter for step %d (Ctrl-D to print the rest) ",
	"records":       "What kubesim recorded",
	"more":          "… and %d more records",
	"keys":          "etcd now holds %d keys",
	"none":          "(none)",
	"first-at":      "first at",
	"choose":        "Click a step marker (the numbered circles above) to see its explanation.",
}

var wordsZH = map[string]string{
	"step":          "第 %d 步",
	"classic":       "经典描述",
	"really":        "实际发生了什么",
	"look":          "观察",
	"etcd-at":       "t=%s 时（本步结束时）Etcd 中存储的对象",
	"timeline":      "Nginx 部署流程：各组件之间的交互",
	"timeline-help": "每条泳道是一个组件，每个箭头是一条消息（对 API Server 的请求、Etcd 提交、监听事件推送、对容器运行时的调用）。点击步骤标记，查看该步骤的解释以及此刻 Etcd 中存储的对象。",
	"request":       "请求",
	"commit":        "提交",
	"watch":         "监听事件",
	"response":      "响应",
	"press-enter":   "按回车键进入第 %d 步（Ctrl-D 打印其余全部） ",
	"records":       "kubesim 记录的事件",
	"more":          "……还有 %d 条记录",
	"keys":          "Etcd 现在保存了 %d 个键",
	"none":          "（无）",
	"first-at":      "首次出现于",
	"choose":        "点击上方带编号的步骤标记，查看该步骤的解释。",
}

// StepHeading is "Step 3: title" in lang.
func StepHeading(lang Lang, s Step) string {
	if lang == ZH {
		return fmt.Sprintf("第 %d 步：%s", s.N, s.Title)
	}
	return fmt.Sprintf("Step %d: %s", s.N, s.Title)
}

#!/usr/bin/env python3
"""A minimal Kubernetes scheduler extender (k8s.io/kube-scheduler/extender/v1),
Python 3 standard library only. It works with a real kube-scheduler and with kubesim.

  filter:     drops nodes labelled example.com/extender-avoid=true
  prioritize: prefers nodes running fewer pods: score = 10 - min(pods, 10)

Usage: extender.py [--host 127.0.0.1] [--port 0]
With --port 0 the OS picks a free port. The first line on stdout is
"listening on http://HOST:PORT" (tests read it).

Pod counts come from the node annotation kubesim.io/pod-count that kubesim sends;
against a real cluster (no such annotation) every node scores 10.
"""
import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

AVOID_LABEL = "example.com/extender-avoid"
MAX_PRIORITY = 10


def node_list(args):
    nodes = (args.get("Nodes") or {}).get("items") or []
    return nodes


def handle_filter(args):
    names = args.get("NodeNames")
    nodes = node_list(args)
    if names is not None:  # nodeCacheCapable: no labels to look at, keep them all
        return {"NodeNames": names, "FailedNodes": {}, "Error": ""}
    keep, failed = [], {}
    for n in nodes:
        meta = n.get("metadata") or {}
        if (meta.get("labels") or {}).get(AVOID_LABEL) == "true":
            failed[meta.get("name", "")] = "node is labelled " + AVOID_LABEL
        else:
            keep.append(n)
    return {"Nodes": {"items": keep}, "FailedNodes": failed, "Error": ""}


def handle_prioritize(args):
    out = []
    for n in node_list(args):
        meta = n.get("metadata") or {}
        pods = int((meta.get("annotations") or {}).get("kubesim.io/pod-count", "0"))
        out.append({"Host": meta.get("name", ""), "Score": MAX_PRIORITY - min(pods, MAX_PRIORITY)})
    for name in args.get("NodeNames") or []:
        out.append({"Host": name, "Score": MAX_PRIORITY})
    return out


def handle_bind(args):
    return {"Error": ""}  # a real extender would POST the Binding to the apiserver


ROUTES = {"/filter": handle_filter, "/prioritize": handle_prioritize, "/bind": handle_bind}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        verb = self.path.rstrip("/").rsplit("/", 1)[-1]
        route = ROUTES.get("/" + verb)
        if route is None:
            self.send_error(404, "unknown verb")
            return
        length = int(self.headers.get("Content-Length", "0"))
        try:
            args = json.loads(self.rfile.read(length) or b"{}")
            body = json.dumps(route(args)).encode()
        except Exception as exc:  # report, as the protocol's Error field would
            self.send_error(500, str(exc))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # quiet
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    # One thread per connection: clients keep connections alive (HTTP/1.1), and
    # kubesim compare --parallel K holds K of them at once. A single-threaded
    # server would serve one and leave the others waiting until they time out,
    # which makes results depend on the wall clock.
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    print("listening on http://%s:%d" % srv.server_address[:2], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())

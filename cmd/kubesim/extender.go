package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/cluster"
	"github.com/kubesim/kubesim/model/scheduler"
	"github.com/kubesim/kubesim/model/scheduler/extender"
	"github.com/kubesim/kubesim/model/scheduler/policies"
)

// isExtenderURL reports whether a policy names a scheduler extender by its URL.
func isExtenderURL(policy string) bool {
	return strings.HasPrefix(policy, "http://") || strings.HasPrefix(policy, "https://")
}

// withExtender makes opts schedule with the extender at url (verbs filter and
// prioritize, weight 1, a 5 s timeout, not ignorable), as a policy named by its URL.
// The HTTP calls happen here, in cmd: the model does no I/O.
func withExtender(opts cluster.Options, url string) cluster.Options {
	url = strings.TrimSuffix(url, "/")
	opts.Policies = cluster.NewPolicyRegistry()
	opts.Policies.Register(url, cluster.RawPolicy(url))
	opts.RegisterPlugins = func(reg *scheduler.Registry) error {
		ext, err := extender.New(extender.Config{Name: url, URLPrefix: url, FilterVerb: "filter", PrioritizeVerb: "prioritize",
			Weight: 1, HTTPTimeout: 5 * time.Second, Transport: httpTransport})
		if err != nil {
			return fmt.Errorf("extender %s: %w", url, err)
		}
		return scheduler.RegisterPolicy(reg, url, func(any) (policies.Policy, error) { return ext, nil })
	}
	return opts
}

// httpTransport POSTs one extender call (application/json) and returns the body.
func httpTransport(url string, body []byte, timeout time.Duration) ([]byte, error) {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data))
	}
	return data, nil
}

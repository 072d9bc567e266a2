package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/kubesim/kubesim/model/cluster"
	"github.com/kubesim/kubesim/model/manifest"
	"github.com/kubesim/kubesim/model/scenario"
)

// Kubernetes manifests (issue 3, part 6): the scenario's manifests field and
// run's --manifests flag. The files are read here (the model does no I/O) and
// converted by model/manifest.

var manifestCache sync.Map // *scenario.Scenario -> []cluster.ManifestBatch

// scenarioManifests reads the scenario's manifests once (runs of a comparison
// share the read-only result). Paths are relative to the scenario file (to the
// working directory for built-ins); a directory contributes its .yaml, .yml and
// .json files in name order (not its subdirectories), as kubectl apply -f DIR.
func scenarioManifests(sc *scenario.Scenario) ([]cluster.ManifestBatch, error) {
	if len(sc.Manifests) == 0 {
		return nil, nil
	}
	if v, ok := manifestCache.Load(sc); ok {
		return v.([]cluster.ManifestBatch), nil
	}
	base := "."
	if f := sc.File(); f != "" && !strings.HasSuffix(f, "(built-in)") {
		base = filepath.Dir(f)
	}
	var out []cluster.ManifestBatch
	for i, m := range sc.Manifests {
		p := m.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(base, p)
		}
		set, err := readManifests(p)
		if err != nil {
			return nil, badInput("%s:%d: manifests[%d]: %v", sc.File(), m.Line, i, err)
		}
		out = append(out, cluster.ManifestBatch{At: m.At.D(), Source: p, Set: set})
	}
	sets := make([]*manifest.Set, len(out))
	for i := range out {
		sets[i] = out[i].Set
	}
	if err := manifest.CheckDuplicates(sets...); err != nil {
		return nil, &inputError{err}
	}
	manifestCache.Store(sc, out)
	return out, nil
}

// readManifests reads a manifest file, or every manifest file of a directory.
func readManifests(p string) (*manifest.Set, error) {
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no such file or directory", p)
	}
	if err != nil {
		return nil, err
	}
	files := []string{p}
	if st.IsDir() {
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		files = files[:0]
		for _, e := range entries {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if !e.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
		sort.Strings(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: the directory holds no .yaml, .yml or .json file", p)
		}
	}
	set := &manifest.Set{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		s, err := manifest.Parse(f, b)
		if err != nil {
			return nil, err
		}
		set.Merge(s)
	}
	return set, nil
}

// addManifestFlags appends run's --manifests paths (relative to the working
// directory) to the scenario's manifests, applied at time 0.
func addManifestFlags(sc *scenario.Scenario, paths []string) error {
	for _, p := range paths {
		if p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return badInput("--manifests %s: %v", p, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return badInput("--manifests %s: no such file or directory", p)
		}
		sc.Manifests = append(sc.Manifests, scenario.ManifestRef{Path: abs})
	}
	return nil
}

// printManifestWarnings prints what the manifests held that kubesim ignored,
// grouped, on w.
func printManifestWarnings(w io.Writer, batches []cluster.ManifestBatch) {
	all := &manifest.Set{}
	for _, b := range batches {
		all.Merge(b.Set)
	}
	lines := all.WarningSummary()
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "manifests: %d field(s) or document(s) ignored (not modeled; see docs/workloads.md):\n", len(all.Warnings))
	for _, l := range lines {
		fmt.Fprintln(w, "  "+l)
	}
}

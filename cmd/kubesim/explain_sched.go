package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/kubesim/kubesim/model/cluster"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/model/scheduler"
	"github.com/kubesim/kubesim/model/scheduler/schedconfig"
	"github.com/kubesim/kubesim/results"
)

// Scheduler configuration files as policies, and "why this node?" (issue 3, parts
// 2 and 5).

// withProfileFile reads and decodes the KubeSchedulerConfiguration file named by
// policy and makes it the run's policy.
func withProfileFile(opts cluster.Options, policy string) (cluster.Options, error) {
	b, err := os.ReadFile(policy)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return opts, badInput("scheduler configuration %s: no such file", policy)
		}
		return opts, badInput("scheduler configuration %s: %v", policy, err)
	}
	res, err := schedconfig.Load(policy, b)
	if err != nil {
		return opts, &inputError{err}
	}
	// Check that the configuration applies (every profile, see scheduler.SetProfiles).
	if err := res.Apply(defaultSchedulerConfigForCheck()); err != nil {
		return opts, badInput("scheduler configuration %s: %v", policy, err)
	}
	opts.Policies = cluster.NewPolicyRegistry()
	opts.Policies.Register(policy, cluster.ProfileFilePolicy(res))
	opts.Policy = policy
	return opts, nil
}

// schedRunSettings are run's --scheduler-config and --explain.
type schedRunSettings struct {
	policy  string // --policy ("" = the default profile)
	config  string // KubeSchedulerConfiguration file ("" = the default profile)
	explain string // scheduling.jsonl path ("" = none)
}

func readSchedRunSettings(v *viper.Viper) (schedRunSettings, error) {
	s := schedRunSettings{policy: v.GetString("policy"), config: v.GetString("scheduler-config"), explain: v.GetString("explain")}
	if s.policy != "" && s.config != "" {
		return s, badInput("--policy and --scheduler-config: give one (a configuration file is itself a policy)")
	}
	if s.config != "" && !cluster.IsProfileFile(s.config) {
		return s, badInput("--scheduler-config %s: want a .yaml or .yml KubeSchedulerConfiguration file", s.config)
	}
	if s.explain != "" {
		if err := checkWritableDir(filepath.Dir(s.explain)); err != nil {
			return s, badInput("--explain %s: %v", s.explain, err)
		}
	}
	return s, nil
}

// decisionLog collects the scheduling decisions of a run, one JSON line each.
type decisionLog struct{ buf bytes.Buffer }

func (l *decisionLog) add(d scheduler.Decision) {
	l.buf.Write(scheduler.DecisionJSON(d))
	l.buf.WriteByte('\n')
}

// write writes scheduling.jsonl to path and, with an output directory, to
// DIR/scheduling.jsonl, atomically.
func (l *decisionLog) write(path, outDir string) error {
	if l == nil {
		return nil
	}
	var paths []string
	if path != "" {
		paths = append(paths, path)
	}
	if outDir != "" {
		paths = append(paths, filepath.Join(outDir, "scheduling.jsonl"))
	}
	for _, p := range paths {
		if err := results.WriteFileAtomic(p, func(w io.Writer) error { _, err := w.Write(l.buf.Bytes()); return err }); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	return nil
}

// schedRunOptions returns run's cluster options: the scheduler configuration
// file's policy, and a decision log hooked to the scheduler when --explain is set
// (nil otherwise).
func schedRunOptions(sc *scenario.Scenario, seed uint64, s schedRunSettings) (cluster.Options, *decisionLog, error) {
	opts, err := clusterOptions(sc, seed, s.policy)
	if err != nil {
		return opts, nil, err
	}
	if s.policy != "" && opts.Policies == nil && !isExtenderURL(s.policy) {
		if err := cluster.NewPolicyRegistry().Apply(s.policy, defaultSchedulerConfigForCheck()); err != nil {
			return opts, nil, badInput("--policy: %v", err)
		}
	}
	if s.config != "" {
		if opts, err = withProfileFile(opts, s.config); err != nil {
			return opts, nil, err
		}
	}
	if s.explain == "" {
		return opts, nil, nil
	}
	log := &decisionLog{}
	opts = withDecisionLog(opts, log.add)
	return opts, log, nil
}

// withDecisionLog wraps the run's policy so that the scheduler hands every
// decision to f.
func withDecisionLog(opts cluster.Options, f func(scheduler.Decision)) cluster.Options {
	base := opts.Policies
	if base == nil {
		base = cluster.NewPolicyRegistry()
	}
	name := opts.Policy
	if name == "" {
		name = cluster.PolicyDefault
	}
	reg := cluster.NewPolicyRegistry()
	reg.Register(name, func(cfg *scheduler.Config) error {
		if err := base.Apply(name, cfg); err != nil {
			return err
		}
		cfg.OnDecision = f
		return nil
	})
	opts.Policies, opts.Policy = reg, name
	return opts
}

// ---------------------------------------------------------------------------
// kubesim explain-decision

// decisionRecord is one line of scheduling.jsonl as read back.
type decisionRecord struct {
	Pod          string  `json:"pod"`
	Attempt      int     `json:"attempt"`
	TimeS        float64 `json:"time_s"`
	Profile      string  `json:"profile"`
	Node         string  `json:"node"`
	Outcome      string  `json:"outcome"`
	Message      string  `json:"message"`
	Ties         int     `json:"ties"`
	NumAllNodes  int     `json:"num_all_nodes"`
	Examined     int     `json:"examined"`
	Feasible     int     `json:"feasible"`
	ScorePlugins []struct {
		Name    string `json:"name"`
		Weight  int64  `json:"weight"`
		Skipped bool   `json:"skipped"`
	} `json:"score_plugins"`
	Nodes []struct {
		Name   string `json:"name"`
		Filter struct {
			Plugin  string   `json:"plugin"`
			Status  string   `json:"status"`
			Reasons []string `json:"reasons"`
		} `json:"filter"`
		Scores map[string]struct {
			Raw        int64 `json:"raw"`
			Normalized int64 `json:"normalized"`
			Weighted   int64 `json:"weighted"`
		} `json:"scores"`
		Total *int64 `json:"total"`
	} `json:"nodes"`
}

func newExplainDecisionCmd(stdout io.Writer) *cobra.Command {
	var pod string
	var attempt int
	cmd := &cobra.Command{
		Use:   "explain-decision SCHEDULING.jsonl --pod NAME [--attempt N]",
		Short: "Print one pod's scheduling decision from a run's --explain file as a table",
		Long: `Reads scheduling.jsonl (written by kubesim run --explain FILE) and prints the decision
for a pod: one row per examined node with its filter verdict, one column per score
plug-in (normalized score × weight), the weighted total, and the chosen node marked *.
--pod is the pod's name, ns/name or pod/ns/name; --attempt picks an attempt (default:
the pod's last).`,
		Example: `  kubesim run nginx --explain scheduling.jsonl
  kubesim explain-decision scheduling.jsonl --pod nginx-7c5ddbdf54-abcde`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if pod == "" {
				return badInput("--pod: required")
			}
			f, err := os.Open(args[0])
			if err != nil {
				return badInput("%s: %v", args[0], err)
			}
			defer f.Close()
			d, err := findDecision(f, args[0], pod, attempt)
			if err != nil {
				return err
			}
			return writeDecisionTable(stdout, d)
		},
	}
	cmd.Flags().StringVar(&pod, "pod", "", "the pod: name, ns/name or pod/ns/name")
	cmd.Flags().IntVar(&attempt, "attempt", 0, "the scheduling attempt (1, 2, ...; 0 = the last)")
	return cmd
}

func podMatches(ref, want string) bool {
	if ref == want || ref == "pod/"+want {
		return true
	}
	_, nsName, _ := strings.Cut(ref, "/")
	_, name, _ := strings.Cut(nsName, "/")
	return name == want
}

func findDecision(r io.Reader, file, pod string, attempt int) (*decisionRecord, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	var found *decisionRecord
	var attempts []int
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var d decisionRecord
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, badInput("%s:%d: %v", file, line, err)
		}
		if !podMatches(d.Pod, pod) {
			continue
		}
		attempts = append(attempts, d.Attempt)
		if attempt == 0 || d.Attempt == attempt {
			dd := d
			found = &dd
		}
	}
	if err := sc.Err(); err != nil {
		return nil, badInput("%s: %v", file, err)
	}
	if len(attempts) == 0 {
		return nil, badInput("%s: no decision for pod %q", file, pod)
	}
	if found == nil {
		return nil, badInput("%s: pod %q has no attempt %d (attempts: %v)", file, pod, attempt, attempts)
	}
	return found, nil
}

func writeDecisionTable(w io.Writer, d *decisionRecord) error {
	node := d.Node
	if node == "" {
		node = "none"
	}
	fmt.Fprintf(w, "%s  attempt %d  at %.6fs  profile %s  outcome %s  node %s\n", d.Pod, d.Attempt, d.TimeS, d.Profile, d.Outcome, node)
	fmt.Fprintf(w, "%d nodes known, %d examined, %d feasible", d.NumAllNodes, d.Examined, d.Feasible)
	if d.Ties > 1 {
		fmt.Fprintf(w, ", %d tied on the top total (chosen uniformly)", d.Ties)
	}
	fmt.Fprintln(w)
	if d.Message != "" {
		fmt.Fprintf(w, "message: %s\n", d.Message)
	}
	var skipped []string
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	hdr := []string{"", "NODE", "FILTER"}
	var cols []int
	for i, p := range d.ScorePlugins {
		if p.Skipped {
			skipped = append(skipped, p.Name)
			continue
		}
		cols = append(cols, i)
		hdr = append(hdr, fmt.Sprintf("%s(×%d)", p.Name, p.Weight))
	}
	hdr = append(hdr, "TOTAL")
	fmt.Fprintln(tw, strings.Join(hdr, "\t"))
	for _, n := range d.Nodes {
		mark := ""
		if n.Name == d.Node && d.Node != "" {
			mark = "*"
		}
		verdict := "feasible"
		if n.Filter.Plugin != "" {
			verdict = fmt.Sprintf("%s: %s (%s)", n.Filter.Plugin, n.Filter.Status, strings.Join(n.Filter.Reasons, "; "))
		}
		row := []string{mark, n.Name, verdict}
		for _, i := range cols {
			s, ok := n.Scores[d.ScorePlugins[i].Name]
			if !ok {
				row = append(row, "-")
				continue
			}
			row = append(row, fmt.Sprintf("%d×%d=%d", s.Normalized, d.ScorePlugins[i].Weight, s.Weighted))
		}
		if n.Total != nil {
			row = append(row, fmt.Sprint(*n.Total))
		} else {
			row = append(row, "-")
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(skipped) > 0 {
		sort.Strings(skipped)
		fmt.Fprintf(w, "skipped by PreScore: %s\n", strings.Join(skipped, ", "))
	}
	if len(d.Nodes) > 0 && d.Feasible == 1 {
		fmt.Fprintln(w, "one feasible node: no scoring (as upstream)")
	}
	return nil
}

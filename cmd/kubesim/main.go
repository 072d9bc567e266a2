// Command kubesim runs discrete-event simulations of a Kubernetes cluster.
//
// Exit codes: 0 success, 2 bad input (a malformed scenario, a wrong flag value, a
// missing file), 3 a scenario's expectation failed, 4 kubesim validate found a
// metric outside its tolerance, 1 internal error (including a
// broken invariant of the simulation).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// inputError marks errors caused by the user's input (exit 2).
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

func badInput(format string, a ...any) error { return &inputError{fmt.Errorf(format, a...)} }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI with args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	v := viper.New()
	root := newRoot(v, stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "kubesim: error:", err)
	var ie *inputError
	if errors.As(err, &ie) || isUsageError(err) {
		return 2
	}
	var ee *expectationError
	if errors.As(err, &ee) {
		return 3
	}
	var ve *validationError
	if errors.As(err, &ve) {
		return 4
	}
	return 1
}

// isUsageError recognizes cobra's and pflag's errors about arguments and flags.
func isUsageError(err error) bool {
	msg := err.Error()
	for _, s := range []string{"unknown flag", "unknown shorthand flag", "unknown command", "flag needs an argument",
		"invalid argument", "accepts ", "requires at least", "requires exactly", "bad flag syntax"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func newRoot(v *viper.Viper, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubesim",
		Short: "A deterministic discrete-event simulator of a Kubernetes cluster",
		Long: `kubesim simulates a Kubernetes cluster in virtual time: etcd, the apiserver,
the scheduler, the controller-manager, kubelets, a container runtime and kube-proxy,
following the flow a real cluster follows when nginx is deployed.

Settings come from flags, from KUBESIM_* environment variables (KUBESIM_SEED,
KUBESIM_TRACE, ...) and from a config file (--config, or kubesim.yaml in the current
directory), in that order of precedence.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.PersistentFlags().String("config", "", "config file (default: ./kubesim.yaml if present)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		return loadConfig(v, cmd)
	}
	root.AddCommand(newRunCmd(v, stdout, stderr), newCompareCmd(v, stdout, stderr), newScenariosCmd(stdout), newVersionCmd(stdout))
	root.AddCommand(newSweepCmd(v, stdout, stderr), newMergeCmd(v, stdout, stderr))
	root.AddCommand(newPlanCmd(v, stdout, stderr), newExplainDecisionCmd(stdout))
	root.AddCommand(newReportCmd(v, stdout, stderr), newExplainCmd(v, nil, stdout, stderr))
	root.AddCommand(newRealCmd(v, stdout, stderr, newRealRunCmd(v, stdout, stderr)))
	root.AddCommand(newValidateCmd(v, stdout, stderr), newCalibrateCmd(stdout, stderr))
	root.AddCommand(newFidelityCmd(v, stdout, stderr)) // fidelity.go
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &inputError{err} })
	return root
}

// loadConfig wires viper: flags > KUBESIM_ environment > config file > defaults.
func loadConfig(v *viper.Viper, cmd *cobra.Command) error {
	v.SetEnvPrefix("KUBESIM")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	if err := v.BindPFlags(cmd.Flags()); err != nil {
		return err
	}
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		path = os.Getenv("KUBESIM_CONFIG")
	}
	if path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return badInput("config file %s: %v", path, err)
		}
		return nil
	}
	if _, err := os.Stat("kubesim.yaml"); err == nil {
		v.SetConfigFile("kubesim.yaml")
		if err := v.ReadInConfig(); err != nil {
			return badInput("config file kubesim.yaml: %v", err)
		}
	}
	return nil
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print kubesim's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(stdout, "kubesim", version)
			return nil
		},
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/kubesim/kubesim/model/runtime/docker"
)

// newRealCmd is `kubesim real`: real-run mode against the local Docker engine. Its
// own subcommands are gc (remove what crashed runs left) and image (build the local
// nginx image); extra adds more (the real run itself).
func newRealCmd(v *viper.Viper, stdout, stderr io.Writer, extra ...*cobra.Command) *cobra.Command {
	real := &cobra.Command{
		Use:   "real",
		Short: "Real-run mode: the same components against real Docker containers",
		Long: `Real-run mode runs kubesim's components paced by the wall clock against real
containers of the local Docker engine (DOCKER_HOST, or /var/run/docker.sock).

Every container kubesim creates carries the label io.kubesim.managed=true and its
run's id (io.kubesim.run); "kubesim real gc" removes them, and never touches a
container without that label. There is no registry: "kubesim real image" (or
"make nginx-image") builds the local image kubesim/nginx:1.22 from Debian's nginx
package. See docs/real-run.md.`,
	}
	real.AddCommand(newRealGCCmd(stdout), newRealImageCmd(stdout))
	real.AddCommand(extra...)
	return real
}

// dockerTimeout bounds the Docker work of gc and image.
const dockerTimeout = 2 * time.Minute

// signalContext returns a context cancelled by SIGINT/SIGTERM and after d.
func signalContext(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, func() { cancel(); stop() }
}

func newRealGCCmd(stdout io.Writer) *cobra.Command {
	var run string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove the containers kubesim real runs left behind (found by label)",
		Long: `Removes (forcibly: running ones are killed) every container with the label
io.kubesim.managed=true, or only those of one run with --run. Containers without
that label are never touched. Without --run it also removes the containers of a
real run still in progress. Prints each container removed.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if run != "" {
				if err := docker.ValidRunID(run); err != nil {
					return badInput("--run: %v", err)
				}
			}
			ctx, cancel := signalContext(dockerTimeout)
			defer cancel()
			cl, err := docker.Dial(ctx, "")
			if err != nil {
				return err
			}
			defer cl.Close()
			if dryRun {
				list, err := cl.ListManaged(ctx, run)
				if err != nil {
					return err
				}
				for _, r := range list {
					fmt.Fprintln(stdout, "would remove", r)
				}
				fmt.Fprintf(stdout, "%d kubesim container(s) found\n", len(list))
				return nil
			}
			removed, err := cl.GC(ctx, run)
			for _, r := range removed {
				fmt.Fprintln(stdout, "removed", r)
			}
			fmt.Fprintf(stdout, "%d kubesim container(s) removed\n", len(removed))
			return err
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "remove only the containers of this run id")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be removed, remove nothing")
	return cmd
}

func newRealImageCmd(stdout io.Writer) *cobra.Command {
	var o docker.NginxImageOptions
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build the local nginx image (kubesim/nginx:1.22) from Debian's nginx package",
		Long: `Builds the image real runs use for nginx without any registry: the nginx binary
of Debian's nginx package (apt-get install -y nginx), the shared libraries ldd
lists, a minimal nginx.conf (port 80, logs to stdout/stderr, foreground), imported
FROM scratch. Does nothing when the image exists (unless --force).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, cancel := signalContext(dockerTimeout)
			defer cancel()
			cl, err := docker.Dial(ctx, "")
			if err != nil {
				return err
			}
			defer cl.Close()
			built, err := cl.BuildNginxImage(ctx, o)
			if err != nil {
				return err
			}
			ref := o.Ref
			if ref == "" {
				ref = docker.NginxImage
			}
			if built {
				fmt.Fprintf(stdout, "built image %s from %s\n", ref, orDefault(o.Binary, "/usr/sbin/nginx"))
			} else {
				fmt.Fprintf(stdout, "image %s exists: nothing to do (--force rebuilds it)\n", ref)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Ref, "tag", docker.NginxImage, "image reference to build")
	cmd.Flags().StringVar(&o.Binary, "nginx", "/usr/sbin/nginx", "nginx executable to package")
	cmd.Flags().BoolVar(&o.Force, "force", false, "rebuild the image even if it exists")
	return cmd
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

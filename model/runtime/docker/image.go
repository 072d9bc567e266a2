package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
)

// NginxImageOptions configures BuildNginxImage.
type NginxImageOptions struct {
	// Ref is the image to build (default NginxImage, "kubesim/nginx:1.22").
	Ref string
	// Binary is the nginx executable to package (default /usr/sbin/nginx, from
	// Debian's nginx package).
	Binary string
	// MimeTypes is the mime.types file (default /etc/nginx/mime.types).
	MimeTypes string
	// Force rebuilds an image that exists.
	Force bool
}

func (o *NginxImageOptions) defaults() {
	if o.Ref == "" {
		o.Ref = NginxImage
	}
	if o.Binary == "" {
		o.Binary = "/usr/sbin/nginx"
	}
	if o.MimeTypes == "" {
		o.MimeTypes = "/etc/nginx/mime.types"
	}
}

// nginxConf is the image's configuration: one server on port 80 serving a small
// page, logs to stdout and stderr, in the foreground, pid in /tmp.
const nginxConf = `# kubesim/nginx: minimal configuration (kubesim real image)
user nobody nogroup;
worker_processes auto;
daemon off;
pid /tmp/nginx.pid;
error_log stderr notice;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    sendfile on;
    keepalive_timeout 65;

    server {
        listen 80 default_server;
        server_name _;
        root /usr/share/nginx/html;
        index index.html;
        location / {
            try_files $uri $uri/ =404;
        }
    }
}
`

const indexHTML = `<!DOCTYPE html>
<html><head><title>kubesim nginx</title></head>
<body><p>Welcome to nginx in a kubesim real run.</p></body></html>
`

const passwd = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
const group = "root:x:0:\nnogroup:x:65534:\n"
const nsswitch = "passwd: files\ngroup: files\nhosts: files\n"

// fileEntry is one entry of the image's root file system.
type fileEntry struct {
	path string // absolute, in the image
	mode int64
	dir  bool
	data []byte
}

// lddRe matches the library lines of ldd's output: "libz.so.1 => /lib/.../libz.so.1
// (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)".
var lddRe = regexp.MustCompile(`(?:=>\s*)?(/\S+)\s+\(0x[0-9a-fA-F]+\)`)

// parseLdd returns the absolute library paths of ldd's output, sorted. Libraries
// ldd cannot find are an error naming them.
func parseLdd(out string) ([]string, error) {
	seen := map[string]bool{}
	var missing []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.Contains(line, "not found") {
			missing = append(missing, strings.Fields(line)[0])
			continue
		}
		if m := lddRe.FindStringSubmatch(line); m != nil {
			seen[m[1]] = true
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("shared libraries not found: %s", strings.Join(missing, ", "))
	}
	libs := make([]string, 0, len(seen))
	for l := range seen {
		libs = append(libs, l)
	}
	sort.Strings(libs)
	if len(libs) == 0 {
		return nil, errors.New("ldd listed no shared library (a static binary is fine, but nginx from Debian is dynamic: check the output)")
	}
	return libs, nil
}

// nginxRootFS gathers the image's files: the nginx binary, the shared libraries
// ldd lists (copied to the paths ldd names, symlinks resolved), the configuration,
// mime.types, an index page, /etc/passwd and /etc/group with nobody, nginx's
// temporary directories and /tmp.
func nginxRootFS(o NginxImageOptions, ldd func(bin string) (string, error)) ([]fileEntry, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("nginx binary: %w; install Debian's nginx package: apt-get install -y nginx", err)
	}
	out, err := ldd(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", o.Binary, err)
	}
	libs, err := parseLdd(out)
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", o.Binary, err)
	}
	mime, err := os.ReadFile(o.MimeTypes)
	if err != nil {
		return nil, fmt.Errorf("mime.types: %w; install Debian's nginx package: apt-get install -y nginx", err)
	}
	files := []fileEntry{
		{path: "/usr/sbin/nginx", mode: 0o755, data: bin},
		{path: "/etc/nginx/nginx.conf", mode: 0o644, data: []byte(nginxConf)},
		{path: "/etc/nginx/mime.types", mode: 0o644, data: mime},
		{path: "/usr/share/nginx/html/index.html", mode: 0o644, data: []byte(indexHTML)},
		{path: "/etc/passwd", mode: 0o644, data: []byte(passwd)},
		{path: "/etc/group", mode: 0o644, data: []byte(group)},
		{path: "/etc/nsswitch.conf", mode: 0o644, data: []byte(nsswitch)},
		{path: "/tmp", mode: 0o1777, dir: true},
		{path: "/var/log/nginx", mode: 0o755, dir: true},
		{path: "/run", mode: 0o755, dir: true},
	}
	for _, d := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		files = append(files, fileEntry{path: "/var/lib/nginx/" + d, mode: 0o700, dir: true})
	}
	for _, l := range libs {
		data, err := os.ReadFile(l) // follows symlinks
		if err != nil {
			return nil, fmt.Errorf("shared library %s: %w", l, err)
		}
		files = append(files, fileEntry{path: l, mode: 0o755, data: data})
	}
	return files, nil
}

// writeRootFS writes files as a tar stream with their parent directories, in path
// order, owned by root, with a fixed modification time (the same files give the
// same bytes).
func writeRootFS(w io.Writer, files []fileEntry) error {
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	entries := map[string]fileEntry{}
	for _, f := range files {
		entries[path.Clean(f.path)] = f
		for d := path.Dir(f.path); d != "/" && d != "."; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = fileEntry{path: d, mode: 0o755, dir: true}
			}
		}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, n := range names {
		f := entries[n]
		h := &tar.Header{Name: strings.TrimPrefix(n, "/"), Mode: f.mode, ModTime: mtime, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !f.dir {
			if _, err := tw.Write(f.data); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

func runLdd(bin string) (string, error) {
	out, err := exec.Command("ldd", bin).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

func nginxVersion(bin string) string {
	out, err := exec.Command(bin, "-v").CombinedOutput()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version:"))
}

// BuildNginxImage builds the local nginx image from the machine's Debian nginx
// package (no registry is involved): a root file system with the nginx binary, its
// shared libraries and a minimal configuration, imported FROM scratch with CMD
// nginx and EXPOSE 80. It does nothing, and returns false, when the image exists
// (unless Force).
func (c *Client) BuildNginxImage(ctx context.Context, o NginxImageOptions) (built bool, err error) {
	o.defaults()
	if !o.Force {
		ok, err := c.HasImage(ctx, o.Ref)
		if err != nil {
			return false, fmt.Errorf("docker: image inspect %s: %w", o.Ref, err)
		}
		if ok {
			return false, nil
		}
	}
	files, err := nginxRootFS(o, runLdd)
	if err != nil {
		return false, fmt.Errorf("building %s: %w", o.Ref, err)
	}
	var buf bytes.Buffer
	if err := writeRootFS(&buf, files); err != nil {
		return false, fmt.Errorf("building %s: %w", o.Ref, err)
	}
	changes := []string{
		`CMD ["/usr/sbin/nginx"]`,
		"EXPOSE 80/tcp",
		`LABEL io.kubesim.image-source="Debian nginx ` + nginxVersion(o.Binary) + `"`,
	}
	if err := c.api.ImageImport(ctx, &buf, o.Ref, changes); err != nil {
		return false, fmt.Errorf("docker: import %s: %w", o.Ref, err)
	}
	return true, nil
}

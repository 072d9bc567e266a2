package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const lddOut = `	linux-vdso.so.1 (0x00007ffd6a5f7000)
	libcrypt.so.1 => /lib/x86_64-linux-gnu/libcrypt.so.1 (0x00007f9e865e6000)
	libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f9e85fe1000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f9e85dff000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f9e86789000)
`

func TestParseLdd(t *testing.T) {
	libs, err := parseLdd(lddOut)
	if err != nil {
		t.Fatal(err)
	}
	want := "/lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libcrypt.so.1 /lib/x86_64-linux-gnu/libz.so.1 /lib64/ld-linux-x86-64.so.2"
	if got := strings.Join(libs, " "); got != want {
		t.Errorf("libs = %s\nwant   %s", got, want)
	}
	if _, err := parseLdd("\tlibpcre2-8.so.0 => not found\n"); err == nil || !strings.Contains(err.Error(), "libpcre2-8.so.0") {
		t.Errorf("missing library: %v", err)
	}
	if _, err := parseLdd("\tstatically linked\n"); err == nil {
		t.Error("no library listed: no error")
	}
}

// TestNginxRootFS builds the root file system from stand-in files and checks the
// tarball: the binary and libraries at their paths, the configuration, the users,
// nginx's directories; the same files give the same bytes.
func TestNginxRootFS(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bin := write("nginx", "ELF nginx")
	mime := write("mime.types", "types { text/html html; }")
	lib := write("libz.so.1", "ELF libz")
	ldd := func(string) (string, error) { return "\tlibz.so.1 => " + lib + " (0x1)\n", nil }
	files, err := nginxRootFS(NginxImageOptions{Binary: bin, MimeTypes: mime}, ldd)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := writeRootFS(&a, files); err != nil {
		t.Fatal(err)
	}
	if err := writeRootFS(&b, files); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the same files gave different tarballs")
	}
	got := map[string]string{}
	modes := map[string]int64{}
	tr := tar.NewReader(&a)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		got[h.Name] = string(body)
		modes[h.Name] = h.Mode
	}
	for name, want := range map[string]string{
		"usr/sbin/nginx":                  "ELF nginx",
		strings.TrimPrefix(lib, "/"):      "ELF libz",
		"etc/nginx/mime.types":            "types { text/html html; }",
		"usr/share/nginx/html/index.html": "nginx",
		"etc/passwd":                      "nobody:x:65534",
		"etc/group":                       "nogroup:x:65534",
		"etc/nginx/nginx.conf":            "listen 80",
		"tmp/":                            "",
		"var/lib/nginx/body/":             "",
		"var/log/nginx/":                  "",
	} {
		body, ok := got[name]
		if !ok || !strings.Contains(body, want) {
			t.Errorf("%s: present %v, content %q, want it to contain %q", name, ok, body, want)
		}
	}
	for _, want := range []string{"daemon off;", "pid /tmp/nginx.pid;", "access_log /dev/stdout;", "error_log stderr", "user nobody nogroup;"} {
		if !strings.Contains(got["etc/nginx/nginx.conf"], want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	if modes["usr/sbin/nginx"] != 0o755 || modes["tmp/"] != 0o1777 {
		t.Errorf("modes: nginx %o, /tmp %o", modes["usr/sbin/nginx"], modes["tmp/"])
	}
	if _, err := nginxRootFS(NginxImageOptions{Binary: filepath.Join(dir, "absent"), MimeTypes: mime}, ldd); err == nil || !strings.Contains(err.Error(), "apt-get install -y nginx") {
		t.Errorf("missing binary: %v", err)
	}
}

func TestBuildNginxImageIdempotent(t *testing.T) {
	f := newFake()
	cl, _ := newClient(context.Background(), f, "")
	built, err := cl.BuildNginxImage(context.Background(), NginxImageOptions{})
	if err != nil || built {
		t.Fatalf("with the image present: built %v, err %v; want nothing done", built, err)
	}
	if f.images[NginxImage].ID != "sha256:ng" {
		t.Error("the existing image was replaced")
	}
}

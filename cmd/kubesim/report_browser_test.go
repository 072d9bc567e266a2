package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// findChromium looks for a Chromium or Chrome binary: $KUBESIM_CHROME, then the
// usual names on PATH.
func findChromium() string {
	if p := os.Getenv("KUBESIM_CHROME"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell", "chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// artifactDir is where the browser test leaves its screenshot: $KUBESIM_ARTIFACTS,
// else testdata/out (ignored by git through its own .gitignore).
func artifactDir(t *testing.T) string {
	dir := os.Getenv("KUBESIM_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "out")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("*\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReportInBrowser opens a generated report in headless Chromium: no console
// error or exception, the charts and the timeline are there, clicking a step shows
// its explanation; a screenshot is saved as an artifact.
func TestReportInBrowser(t *testing.T) {
	chrome := findChromium()
	if chrome == "" {
		msg := "headless Chromium not found (looked for $KUBESIM_CHROME, chromium, chromium-browser, google-chrome, headless-shell on PATH): install Debian's chromium package (apt-get install chromium) to run the browser test of the HTML report"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		fmt.Fprintln(os.Stderr, "SKIPPED TestReportInBrowser:", msg)
		t.Skip(msg)
	}
	dir := t.TempDir()
	if r := kubesim(t, dir, "run", "nginx", "--out", "run"); r.code != 0 {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	for _, lang := range []string{"en", "zh"} {
		t.Run(lang, func(t *testing.T) {
			page := filepath.Join(dir, "report-"+lang+".html")
			if r := kubesim(t, dir, "report", "run", "-o", page, "--lang", lang); r.code != 0 {
				t.Fatalf("report: exit %d: %s", r.code, r.stderr)
			}
			checkInBrowser(t, chrome, page, lang)
		})
	}
}

func checkInBrowser(t *testing.T, chrome, page, lang string) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.Flag("headless", true), chromedp.WindowSize(1400, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel2 := chromedp.NewContext(actx)
	defer cancel2()
	ctx, cancel3 := context.WithTimeout(ctx, 30*time.Second)
	defer cancel3()

	var mu sync.Mutex
	var problems []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError || e.Type == runtime.APITypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, "console."+string(e.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text+" "+exceptionDesc(e.ExceptionDetails))
		case *log.EventEntryAdded:
			if e.Entry.Level == log.LevelError {
				problems = append(problems, "log error: "+e.Entry.Text+" "+e.Entry.URL)
			}
		}
	})
	abs, _ := filepath.Abs(page)
	var charts, arrows int
	var panelText, hiddenBefore, hiddenAfter string
	var clicked bool
	var shot []byte
	err := chromedp.Run(ctx,
		log.Enable(),
		runtime.Enable(),
		chromedp.Navigate("file://"+abs),
		chromedp.WaitReady("#timeline", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("figure.chart svg").length`, &charts),
		chromedp.Evaluate(`document.querySelectorAll("#timeline line.msg").length`, &arrows),
		chromedp.Evaluate(`String(document.getElementById("step-panel-3").hidden)`, &hiddenBefore),
		chromedp.Click(`button.step-button[data-step="3"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#step-panel-3", chromedp.ByQuery),
		chromedp.Text("#step-panel-3", &panelText, chromedp.ByQuery),
		// Click the timeline's own SVG marker of step 5.
		chromedp.Evaluate(`document.getElementById("step-marker-5").dispatchEvent(new MouseEvent("click",{bubbles:true}))`, &clicked),
		chromedp.WaitVisible("#step-panel-5", chromedp.ByQuery),
		chromedp.Evaluate(`String(document.getElementById("step-panel-3").hidden)`, &hiddenAfter),
		chromedp.FullScreenshot(&shot, 100),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("%s: %s", page, p)
	}
	if charts < 5 {
		t.Errorf("%d charts shown, want at least 5", charts)
	}
	if arrows < 20 {
		t.Errorf("%d arrows in the timeline, want at least 20", arrows)
	}
	if hiddenBefore != "true" {
		t.Errorf("step 3's explanation was visible before the click")
	}
	if hiddenAfter != "true" {
		t.Errorf("clicking step 5 in the timeline did not replace step 3's explanation")
	}
	want := map[string][]string{"en": {"Step 3", "Binding", "/registry/pods/"}, "zh": {"第 3 步", "Scheduler", "/registry/pods/"}}[lang]
	for _, w := range want {
		if !strings.Contains(panelText, w) {
			t.Errorf("after clicking step 3 the explanation lacks %q: %q", w, panelText)
		}
	}
	out := filepath.Join(artifactDir(t), "report-timeline-"+lang+".png")
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", out)
}

func exceptionDesc(d *runtime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}

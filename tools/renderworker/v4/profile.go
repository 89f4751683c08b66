// profile: where a chart's render time goes, named template by named template.
//
//	chartmatrix-render-v4 profile [--runs N] [--top N] [--cpuprofile FILE]
//	    [--release NAME] [--namespace NS] [--kube-version V] [-f VALUES]... [--set K=V]... CHART
//
// CHART is a chart directory or archive; a dependency with a file:// repository whose
// directory exists is loaded from that directory (the templates as they are in the
// tree), the others from charts/. The command renders the chart N times with Helm's
// own engine (engine.Render, the call `helm template` makes) and prints:
//   - engine.Render per render: wall time, the rendering thread's CPU time (steadier
//     on a busy machine), allocations (independent of the load), and the part spent
//     parsing the templates (Helm parses every file on every render);
//   - the worker's whole `helm template` path in-process (values, dependencies from
//     charts/, schema validation, render, manifest sorting), with the worker's parse
//     trees kept between renders (tools/renderworker/engine), which engine.Render
//     above, as Helm ships it, does not do;
//   - per named template (and per template file): calls, inclusive and self CPU ms per
//     render, from a second set of renders of an instrumented copy of the chart.
//
// Helm's engine does not let a caller wrap `include`, so the copy is instrumented at the
// source: every `define` body (and every file) is parsed with text/template/parse and
// written back between two probe calls, passed to the engine as custom template
// functions. The probes print nothing; the instrumented output is compared with the
// plain one and a difference is reported, so the numbers always describe the real
// templates. --cpuprofile writes a Go CPU profile of the instrumented renders, each
// sample labelled with the running template: go tool pprof -tags -focus=toYAML FILE
// shows which templates spend the time in toYaml.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	texttemplate "text/template"
	"text/template/parse"
	"time"
	"unsafe"

	"github.com/spf13/pflag"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/cli"
	"helm.sh/helm/v4/pkg/engine"
	"helm.sh/helm/v4/pkg/getter"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
)

// The probes' names in the instrumented templates: unlikely to clash with a chart's.
const (
	probeEnter = "chartmatrixProfileEnter"
	probeLeave = "chartmatrixProfileLeave"
)

type profileOptions struct {
	runs, top      int
	cpuProfile     string
	release, ns    string
	kubeVersion    string
	skipSchema     bool
	values         valueOptions
	chartPath      string
	releaseOptions common.ReleaseOptions
	caps           *common.Capabilities
	allocs         uint64 // of one engine.Render
	allocBytes     uint64
}

// profileMain is the `profile` subcommand; it returns the process exit code.
func profileMain(argv []string, out io.Writer) int {
	opts, err := parseProfileArgs(argv)
	if err == nil {
		err = runProfile(opts, out)
	}
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chartmatrix-render-v4 profile:", err)
		return 2
	}
	return 0
}

func parseProfileArgs(argv []string) (*profileOptions, error) {
	o := &profileOptions{}
	f := pflag.NewFlagSet("profile", pflag.ContinueOnError)
	f.IntVar(&o.runs, "runs", 50, "renders per measurement")
	f.IntVar(&o.top, "top", 40, "named templates listed (0: all)")
	f.StringVar(&o.cpuProfile, "cpuprofile", "",
		"write a Go CPU profile of the instrumented renders to FILE, each sample labelled template=NAME")
	f.StringVar(&o.release, "release", "release-name", "release name")
	f.StringVarP(&o.ns, "namespace", "n", "default", "namespace")
	f.StringVar(&o.kubeVersion, "kube-version", "", "Kubernetes version of .Capabilities")
	f.BoolVar(&o.skipSchema, "skip-schema-validation", false, "do not validate values against values.schema.json")
	f.StringSliceVarP(&o.values.ValueFiles, "values", "f", nil, "values file (repeatable)")
	f.StringArrayVar(&o.values.Values, "set", nil, "helm's --set (repeatable)")
	f.StringArrayVar(&o.values.StringValues, "set-string", nil, "helm's --set-string (repeatable)")
	f.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: chartmatrix-render-v4 profile [flags] CHART")
		f.PrintDefaults()
	}
	if err := f.Parse(argv); err != nil {
		return nil, err
	}
	if f.NArg() != 1 {
		f.Usage()
		return nil, errors.New("one CHART argument expected")
	}
	if o.runs < 1 {
		return nil, fmt.Errorf("--runs must be >= 1 (got %d)", o.runs)
	}
	o.chartPath = f.Arg(0)
	o.caps = common.DefaultCapabilities.Copy()
	if o.kubeVersion != "" {
		kv, err := common.ParseKubeVersion(o.kubeVersion)
		if err != nil {
			return nil, fmt.Errorf("invalid --kube-version %q: %w", o.kubeVersion, err)
		}
		o.caps.KubeVersion = *kv
	}
	o.releaseOptions = common.ReleaseOptions{Name: o.release, Namespace: o.ns, Revision: 1, IsInstall: true}
	return o, nil
}

func runProfile(o *profileOptions, out io.Writer) error {
	plain, err := loadWithSourceDeps(o.chartPath, out)
	if err != nil {
		return err
	}
	vals, err := o.values.MergeValues(getter.All(cli.New()), &stdinOnce{read: true})
	if err != nil {
		return err
	}

	want, _, err := renderChart(o, plain, vals, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", o.chartPath, err)
	}
	engineTimes, err := timePlainRenders(o, plain, vals)
	if err != nil {
		return err
	}
	// the worker's path loads dependencies from charts/ as helm does: without them
	// (no `helm dependency build`) that line says why instead
	cpu := processCPU()
	workerTimes, workerErr := timeWorkerTemplate(o)
	workerCPU := (processCPU() - cpu) / time.Duration(o.runs)

	probed, err := loadWithSourceDeps(o.chartPath, io.Discard)
	if err != nil {
		return err
	}
	if err := instrumentChart(probed); err != nil {
		return err
	}
	parseTime, err := timeParse(plain, o.runs)
	if err != nil {
		return err
	}
	prof := newProfiler()
	if o.cpuProfile != "" {
		stop, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
		prof.labels = true
	}
	for range o.runs {
		prof.reset()
		got, _, rerr := renderChart(o, probed, vals, prof.funcs())
		if rerr != nil {
			return fmt.Errorf("instrumented render: %w", rerr)
		}
		if !sameFiles(want, got) {
			fmt.Fprintln(out, "WARNING: the instrumented chart renders differently: per-template numbers are approximate")
		}
	}

	fmt.Fprintf(out, "chart %s (%s), %d renders each\n", plain.Name(), o.chartPath, o.runs)
	walls, cpus := splitTimings(engineTimes)
	fmt.Fprintf(out, "engine.Render: wall %s\n", summarize(walls))
	fmt.Fprintf(out, "               CPU  %s (the rendering thread: steadier on a busy machine)\n", summarize(cpus))
	fmt.Fprintf(out, "               allocations %d (%.1f MB) per render (independent of the machine's load)\n",
		o.allocs, float64(o.allocBytes)/1e6)
	fmt.Fprintf(out, "  of which parsing the templates (engine.Render parses every file on every render): %.2f ms\n", ms(parseTime))
	if workerErr != nil {
		fmt.Fprintf(out, "helm template in-process (the worker's path): not measured: %v\n", workerErr)
	} else {
		fmt.Fprintf(out, "helm template in-process (the worker's path, dependencies from charts/, parse trees kept): wall %s; CPU %.2f ms per render (all threads)\n",
			summarize(workerTimes), ms(workerCPU))
	}
	fmt.Fprintln(out)
	prof.report(out, o.runs, o.top)
	return nil
}

// loadWithSourceDeps loads a chart; a dependency with a file:// repository whose
// directory exists is loaded from that directory instead of charts/ (what `helm
// dependency build` would package), so the profile is of the templates as they are
// in the tree, never of a stale archive.
func loadWithSourceDeps(path string, out io.Writer) (*chartv2.Chart, error) {
	loaded, err := loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c, ok := loaded.(*chartv2.Chart)
	if !ok {
		return nil, fmt.Errorf("%s: chart type %T is not a v2 chart", path, loaded)
	}
	if c.Metadata == nil || fileInfoIsNotDir(path) {
		return c, nil
	}
	deps := c.Dependencies()
	for _, d := range c.Metadata.Dependencies {
		dir, ok := strings.CutPrefix(d.Repository, "file://")
		if !ok {
			continue
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(path, dir)
		}
		if fileInfoIsNotDir(dir) {
			continue
		}
		src, err := loader.Load(dir)
		if err != nil {
			return nil, fmt.Errorf("dependency %s (%s): %w", d.Name, dir, err)
		}
		sub, ok := src.(*chartv2.Chart)
		if !ok {
			return nil, fmt.Errorf("dependency %s (%s): chart type %T is not a v2 chart", d.Name, dir, src)
		}
		deps = slices.DeleteFunc(deps, func(old *chartv2.Chart) bool { return old.Name() == sub.Name() })
		deps = append(deps, sub)
		fmt.Fprintf(out, "dependency %s loaded from its source, %s\n", d.Name, dir)
	}
	c.SetDependencies(deps...)
	return c, nil
}

func fileInfoIsNotDir(path string) bool {
	info, err := os.Stat(path)
	return err != nil || !info.IsDir()
}

// renderChart is Install.RunWithContext's render for `helm template` (client dry run):
// dependencies processed on a fresh copy, values coalesced and validated, engine.Render.
func renderChart(o *profileOptions, c *chartv2.Chart, vals map[string]any,
	funcs texttemplate.FuncMap) (map[string]string, timing, error) {
	ch, toRender, err := prepareRender(o, c, vals)
	if err != nil {
		return nil, timing{}, err
	}
	e := engine.Engine{CustomTemplateFuncs: funcs}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, startCPU := time.Now(), threadCPU()
	files, err := e.RenderWithContext(context.Background(), ch, toRender)
	return files, timing{wall: time.Since(start), cpu: threadCPU() - startCPU}, err
}

// prepareRender: a fresh copy of the chart with its dependencies processed, and the
// values engine.Render gets (coalesced, validated against the chart's schema).
func prepareRender(o *profileOptions, c *chartv2.Chart, vals map[string]any) (*chartv2.Chart, common.Values, error) {
	ch := cloneChart(c)
	v := copyMap(vals)
	if err := chartutil.ProcessDependencies(ch, v); err != nil {
		return nil, nil, err
	}
	toRender, err := util.ToRenderValuesWithSchemaValidation(ch, v, o.releaseOptions, o.caps, o.skipSchema)
	return ch, toRender, err
}

// timing of one render: wall clock and the rendering thread's CPU time.
type timing struct{ wall, cpu time.Duration }

// threadCPU is the CPU time of the calling OS thread (callers lock the goroutine to it):
// the render's own work, without other processes' load or the background collector.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3 // Linux's CLOCK_THREAD_CPUTIME_ID: nanoseconds, not ticks
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

func timePlainRenders(o *profileOptions, c *chartv2.Chart, vals map[string]any) ([]timing, error) {
	times := make([]timing, 0, o.runs)
	for range o.runs {
		_, d, err := renderChart(o, c, vals, nil)
		if err != nil {
			return nil, err
		}
		times = append(times, d)
	}
	// allocations of engine.Render alone, from one more render: a count that does not
	// depend on the machine's load, for comparing two versions of a chart
	ch, toRender, err := prepareRender(o, c, vals)
	if err != nil {
		return nil, err
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = engine.Engine{}.RenderWithContext(context.Background(), ch, toRender)
	runtime.ReadMemStats(&after)
	o.allocs, o.allocBytes = after.Mallocs-before.Mallocs, after.TotalAlloc-before.TotalAlloc
	return times, err
}

// timeWorkerTemplate times the worker's whole `helm template` path on the same arguments.
func timeWorkerTemplate(o *profileOptions) ([]time.Duration, error) {
	args := []string{"template", o.release, o.chartPath, "--namespace", o.ns}
	if o.kubeVersion != "" {
		args = append(args, "--kube-version", o.kubeVersion)
	}
	if o.skipSchema {
		args = append(args, "--skip-schema-validation")
	}
	for _, v := range o.values.ValueFiles {
		args = append(args, "--values", v)
	}
	for _, v := range o.values.Values {
		args = append(args, "--set", v)
	}
	for _, v := range o.values.StringValues {
		args = append(args, "--set-string", v)
	}
	cache := map[string]*cached{}
	engine.ParseCacheSize = engine.WorkerParseCacheSize // as in the worker
	releaseutil.HeadCacheBytes = releaseutil.WorkerHeadCacheBytes
	defer func() { engine.ParseCacheSize, releaseutil.HeadCacheBytes = 0, 0 }()
	times := make([]time.Duration, 0, o.runs)
	for range o.runs {
		start := time.Now()
		if err := template(args, nil, io.Discard, cache); err != nil {
			return nil, fmt.Errorf("helm template %s: %w", strings.Join(args[1:], " "), err)
		}
		times = append(times, time.Since(start))
	}
	return times, nil
}

func splitTimings(ts []timing) (walls, cpus []time.Duration) {
	for _, t := range ts {
		walls = append(walls, t.wall)
		cpus = append(cpus, t.cpu)
	}
	return walls, cpus
}

func summarize(times []time.Duration) string {
	s := slices.Clone(times)
	slices.Sort(s)
	var sum time.Duration
	for _, t := range s {
		sum += t
	}
	return fmt.Sprintf("median %.2f ms  (min %.2f, mean %.2f)",
		ms(s[len(s)/2]), ms(s[0]), ms(sum/time.Duration(len(s))))
}

// processCPU is the user+system CPU time of this process so far (all threads: the
// garbage collector's work counts).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func sameFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// timeParse: the CPU time of parsing every template file of the chart and its
// subcharts once, as engine.Render does on each render (median of runs).
func timeParse(c *chartv2.Chart, runs int) (time.Duration, error) {
	var files []string
	var collect func(*chartv2.Chart)
	collect = func(c *chartv2.Chart) {
		for _, f := range c.Templates {
			files = append(files, string(f.Data))
		}
		for _, d := range c.Dependencies() {
			collect(d)
		}
	}
	collect(c)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	times := make([]time.Duration, 0, runs)
	for range runs {
		start := threadCPU()
		for i, text := range files {
			t := parse.New(strconv.Itoa(i))
			t.Mode = parse.SkipFuncCheck
			if _, err := t.Parse(text, "", "", map[string]*parse.Tree{}); err != nil {
				return 0, err
			}
		}
		times = append(times, threadCPU()-start)
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

// startCPUProfile writes a Go CPU profile to path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// --- instrumenting the templates ------------------------------------------------------

func instrumentChart(c *chartv2.Chart) error {
	for _, f := range c.Templates {
		text, err := instrumentFile(c.Name()+"/"+f.Name, f.Name, string(f.Data))
		if err != nil {
			return fmt.Errorf("%s/%s: %w", c.Name(), f.Name, err)
		}
		f.Data = []byte(text)
	}
	for _, d := range c.Dependencies() {
		if err := instrumentChart(d); err != nil {
			return err
		}
	}
	return nil
}

// instrumentFile writes a template file back with each define body, and the file's own
// body, between the two probes. Parse trees print as equivalent template source
// (whitespace trimming is already applied to their text, comments are dropped).
func instrumentFile(label, name, text string) (string, error) {
	trees := map[string]*parse.Tree{}
	t := parse.New(name)
	t.Mode = parse.SkipFuncCheck
	if _, err := t.Parse(text, "", "", trees); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, n := range slices.Sorted(mapKeys(trees)) {
		if n == name {
			continue
		}
		fmt.Fprintf(&b, "{{define %q}}{{%s %q}}%s{{%s}}{{end}}", n, probeEnter, n, trees[n].Root.String(), probeLeave)
	}
	if root, ok := trees[name]; ok && root.Root != nil {
		fmt.Fprintf(&b, "{{%s %q}}%s{{%s}}", probeEnter, "file "+label, root.Root.String(), probeLeave)
	}
	return b.String(), nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// --- the probes ---------------------------------------------------------------------

type frame struct {
	name     string
	start    time.Duration // threadCPU at entry
	children time.Duration
}

type templateStat struct {
	calls       int
	total, self time.Duration // total counts a recursive template's outermost call only
}

type profiler struct {
	labels bool // label the goroutine with the running template (for --cpuprofile)
	stack  []frame
	depth  map[string]int
	stats  map[string]*templateStat
}

func newProfiler() *profiler {
	return &profiler{depth: map[string]int{}, stats: map[string]*templateStat{}}
}

// reset drops frames a failed render left open.
func (p *profiler) reset() { p.stack = p.stack[:0]; clear(p.depth) }

func (p *profiler) funcs() texttemplate.FuncMap {
	return texttemplate.FuncMap{probeEnter: p.enter, probeLeave: p.leave}
}

func (p *profiler) enter(name string) string {
	p.depth[name]++
	p.stack = append(p.stack, frame{name: name, start: threadCPU()})
	p.label()
	return ""
}

func (p *profiler) leave() string {
	if len(p.stack) == 0 {
		return ""
	}
	f := p.stack[len(p.stack)-1]
	p.stack = p.stack[:len(p.stack)-1]
	d := threadCPU() - f.start
	st := p.stats[f.name]
	if st == nil {
		st = &templateStat{}
		p.stats[f.name] = st
	}
	st.calls++
	st.self += d - f.children
	if p.depth[f.name] == 1 {
		st.total += d
	}
	p.depth[f.name]--
	if len(p.stack) > 0 {
		p.stack[len(p.stack)-1].children += d
	}
	p.label()
	return ""
}

// label sets the goroutine's pprof label to the running template: samples in Helm's
// functions (toYaml, fromYaml, ...) are then charged to the template that called them.
func (p *profiler) label() {
	if !p.labels {
		return
	}
	name := "(engine)"
	if len(p.stack) > 0 {
		name = p.stack[len(p.stack)-1].name
	}
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("template", name)))
}

func (p *profiler) report(out io.Writer, runs, top int) {
	names := slices.Collect(mapKeys(p.stats))
	sort.Slice(names, func(i, j int) bool {
		a, b := p.stats[names[i]], p.stats[names[j]]
		if a.total != b.total {
			return a.total > b.total
		}
		return names[i] < names[j]
	})
	var selfSum time.Duration
	for _, s := range p.stats {
		selfSum += s.self
	}
	fmt.Fprintf(out, "template execution (instrumented; CPU time of the rendering thread, probes included): %.2f ms per render\n",
		ms(selfSum/time.Duration(runs)))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "calls/render\ttotal ms\tself ms\tself %\t  template")
	for i, n := range names {
		if top > 0 && i >= top {
			fmt.Fprintf(w, "\t\t\t\t  (%d more: --top 0 lists all)\n", len(names)-top)
			break
		}
		s := p.stats[n]
		fmt.Fprintf(w, "%.1f\t%.3f\t%.3f\t%.1f\t  %s\n", float64(s.calls)/float64(runs),
			ms(s.total/time.Duration(runs)), ms(s.self/time.Duration(runs)),
			100*float64(s.self)/float64(max(selfSum, 1)), n)
	}
	_ = w.Flush()
}

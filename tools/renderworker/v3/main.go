// chartmatrix-render-v3: `helm template` of Helm v3 as a long-lived worker.
//
// chartmatrix starts one worker per core and streams render requests to it: one
// JSON object per line on stdin, one answer per line on stdout, in order.
//
//	→ {"id": 7, "args": ["template", "REL", "CHART", "--namespace", "NS", "--values", "-", ...], "stdin": "{...}", "cwd": "/dir"}
//	← {"id": 7, "ok": true, "stdout": "---\n# Source: ...", "stderr": ""}
//	← {"id": 7, "ok": false, "stdout": "", "stderr": "Error: ..."}
//	← {"id": 7, "fallback": "why"}   the worker does not handle these arguments: run helm
//	→ {"id": 0, "op": "version"}      ← {"id": 0, "ok": true, "stdout": "v4.3.1", "stderr": "v1.37.0"}
//
// args are exactly the arguments of a `helm template` call and the answer is exactly
// what that call would print (stdout on success, stderr on failure), because the
// request goes through the same code: this file copies the template command
// (cmd/helm/template.go and runInstall in cmd/helm/install.go of helm.sh/helm/v3 at
// the pinned version) minus what a local render never reaches (registries, repositories,
// --output-dir, --show-only, --debug, server dry runs: those ask for a fallback).
// What differs is only that each chart is loaded once (cached by path and checked
// against the files' sizes and modification times) and rendered from a fresh copy
// of the parts Helm's dependency processing modifies, and that values schemas are
// compiled once per content (schemacheck.go: Helm's check is skipped only when this
// one passes; any failure is Helm's own, with its own words), and that the engine
// keeps the parse trees of the template files between renders (bootstrap adds
// tools/renderworker/engine/parsecache.go to Helm's pkg/engine: a go build -overlay).
//
// Build with the same -X ldflags as the helm3 binary (version, gitTreeState and
// chartutil.k8sVersionMajor/Minor) so that .Capabilities match.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	pkgerrors "github.com/pkg/errors"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/strvals"
)

type request struct {
	ID    int64    `json:"id"`
	Op    string   `json:"op,omitempty"` // "" (render) or "version"
	Args  []string `json:"args"`
	Stdin string   `json:"stdin"`
	Cwd   string   `json:"cwd,omitempty"` // helm's working directory (relative paths)
}

type response struct {
	ID       int64  `json:"id"`
	OK       bool   `json:"ok"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	Fallback string `json:"fallback,omitempty"`
}

// fallback: the request is valid for helm but not handled here.
type fallback string

// stderr collects what helm would print on its standard error for one request.
type stderr struct{ buf bytes.Buffer }

func (s *stderr) Write(p []byte) (int, error) { return s.buf.Write(p) }

var errOut = &stderr{}

// setupLogging mirrors cmd/helm's init: the log package with file:line prefixes, on
// stderr (here: the request's stderr). slog keeps its default handler, which writes
// through the log package as in helm3.
func setupLogging() {
	log.SetFlags(log.Lshortfile)
	log.SetOutput(errOut)
}

// warning is cmd/helm's warning(): straight to stderr.
func warning(format string, v ...interface{}) {
	format = fmt.Sprintf("WARNING: %s\n", format)
	fmt.Fprintf(errOut, format, v...)
}

func main() {
	setupLogging()
	engine.ParseCacheSize = engine.WorkerParseCacheSize
	releaseutil.HeadCacheBytes = releaseutil.WorkerHeadCacheBytes
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	cache := map[string]*cached{}
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var req request
			var resp response
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				resp = response{ID: req.ID, Fallback: "bad request: " + jerr.Error()}
			} else {
				resp = serve(req, cache)
			}
			if eerr := enc.Encode(resp); eerr != nil {
				fmt.Fprintln(os.Stderr, "chartmatrix-render:", eerr)
				os.Exit(2)
			}
			if ferr := out.Flush(); ferr != nil {
				os.Exit(0) // the reader went away
			}
		}
		if err != nil {
			return // EOF: chartmatrix is done
		}
	}
}

func serve(req request, cache map[string]*cached) (resp response) {
	resp.ID = req.ID
	if req.Op == "version" {
		resp.OK = true
		resp.Stdout = chartutil.DefaultCapabilities.HelmVersion.Version
		resp.Stderr = chartutil.DefaultCapabilities.KubeVersion.Version
		return resp
	}
	if req.Cwd != "" {
		if wd, _ := os.Getwd(); wd != req.Cwd {
			if err := os.Chdir(req.Cwd); err != nil {
				resp.Fallback = "cannot enter " + req.Cwd
				return resp
			}
		}
	}
	errOut.buf.Reset()
	var stdout bytes.Buffer
	defer func() {
		if r := recover(); r != nil {
			resp = response{ID: req.ID, Fallback: fmt.Sprintf("worker panic: %v", r)}
		}
	}()
	err := template(req.Args, []byte(req.Stdin), &stdout, cache)
	var fb fallback
	switch {
	case errors.As(err, &fb):
		resp.Fallback = string(fb)
	case err != nil:
		// cobra: c.PrintErrln(c.ErrPrefix(), err.Error())
		fmt.Fprintln(errOut, "Error:", err.Error())
		resp.Stderr = errOut.buf.String()
	default:
		resp.OK = true
		resp.Stdout = stdout.String()
	}
	if !utf8.ValidString(resp.Stdout) || !utf8.ValidString(resp.Stderr) {
		return response{ID: req.ID, Fallback: "output is not UTF-8"}
	}
	return resp
}

func (f fallback) Error() string { return string(f) }

// template is newTemplateCmd's RunE for the flags chartmatrix passes.
func template(argv []string, stdin []byte, out io.Writer, cache map[string]*cached) error {
	if len(argv) == 0 || argv[0] != "template" {
		return fallback("not a template command")
	}
	settings := cli.New()
	// helm's main: new(action.Configuration), Init(..., debug): Log prints nothing
	// without --debug; client-only installs replace the rest.
	client := action.NewInstall(&action.Configuration{Log: func(string, ...interface{}) {}})
	valueOpts := &valueOptions{}
	var includeCrds, skipTests bool
	var kubeVersion string
	var extraAPIs []string

	f := pflag.NewFlagSet("template", pflag.ContinueOnError)
	f.SetOutput(io.Discard)
	settings.AddFlags(f)
	f.StringSliceVarP(&valueOpts.ValueFiles, "values", "f", []string{}, "")
	f.StringArrayVar(&valueOpts.Values, "set", []string{}, "")
	f.StringArrayVar(&valueOpts.StringValues, "set-string", []string{}, "")
	f.StringArrayVar(&valueOpts.FileValues, "set-file", []string{}, "")
	f.StringArrayVar(&valueOpts.JSONValues, "set-json", []string{}, "")
	f.StringArrayVar(&valueOpts.LiteralValues, "set-literal", []string{}, "")
	f.BoolVar(&client.DisableHooks, "no-hooks", false, "")
	f.BoolVar(&client.SkipCRDs, "skip-crds", false, "")
	f.BoolVar(&client.SkipSchemaValidation, "skip-schema-validation", false, "")
	f.BoolVar(&client.DisableOpenAPIValidation, "disable-openapi-validation", false, "")
	f.StringVar(&client.Description, "description", "", "")
	f.BoolVar(&includeCrds, "include-crds", false, "")
	f.BoolVar(&skipTests, "skip-tests", false, "")
	f.BoolVar(&client.IsUpgrade, "is-upgrade", false, "")
	f.StringVar(&kubeVersion, "kube-version", "", "")
	f.StringSliceVarP(&extraAPIs, "api-versions", "a", []string{}, "")
	if err := f.Parse(argv[1:]); err != nil {
		return fallback("arguments: " + err.Error())
	}
	if settings.Debug {
		return fallback("--debug")
	}
	args := f.Args()
	if len(args) != 2 {
		return fallback("not NAME CHART")
	}

	// --- newTemplateCmd RunE -------------------------------------------------
	if kubeVersion != "" {
		parsedKubeVersion, err := chartutil.ParseKubeVersion(kubeVersion)
		if err != nil {
			return fmt.Errorf("invalid kube version '%s': %s", kubeVersion, err)
		}
		client.KubeVersion = parsedKubeVersion
	}
	// (registry client: only for OCI references, which fall back below)
	if client.DryRunOption == "" { // no --dry-run flag here
		client.DryRunOption = "true"
	}
	client.DryRun = true
	client.ReleaseName = "release-name"
	client.Replace = true    // Skip the name check
	client.ClientOnly = true // no --validate here
	client.APIVersions = chartutil.VersionSet(extraAPIs)
	client.IncludeCRDs = includeCrds
	rel, err := runInstall(args, client, valueOpts, stdin, settings, cache)
	if err != nil {
		if rel != nil {
			return fmt.Errorf("%w\n\nUse --debug flag to render out invalid YAML", err)
		}
		return err
	}
	if rel != nil {
		var manifests bytes.Buffer
		fmt.Fprintln(&manifests, strings.TrimSpace(rel.Manifest))
		if !client.DisableHooks {
			for _, m := range rel.Hooks {
				if skipTests && isTestHook(m) {
					continue
				}
				fmt.Fprintf(&manifests, "---\n# Source: %s\n%s\n", m.Path, m.Manifest)
			}
		}
		fmt.Fprintf(out, "%s", manifests.String())
	}
	return nil
}

func isTestHook(h *release.Hook) bool {
	for _, e := range h.Events {
		if e == release.HookTest {
			return true
		}
	}
	return false
}

// runInstall is cmd/helm's runInstall for a local chart, the chart taken from the cache.
func runInstall(args []string, client *action.Install, valueOpts *valueOptions, stdin []byte,
	settings *cli.EnvSettings, cache map[string]*cached) (*release.Release, error) {
	name, chartRef, err := client.NameAndChart(args)
	if err != nil {
		return nil, err
	}
	client.ReleaseName = name

	if ref := strings.TrimSpace(chartRef); registry.IsOCI(ref) {
		return nil, fallback("chart is an OCI reference")
	} else if _, serr := os.Stat(ref); serr != nil && !filepath.IsAbs(ref) && !strings.HasPrefix(ref, ".") {
		return nil, fallback("chart is not a local path") // helm would look in repositories
	}
	cp, err := client.ChartPathOptions.LocateChart(chartRef, settings)
	if err != nil {
		return nil, err
	}

	p := getter.All(settings)
	vals, err := valueOpts.MergeValues(p, &stdinOnce{data: stdin})
	if err != nil {
		return nil, err
	}

	chartRequested, err := load(cp, cache)
	if err != nil {
		return nil, err
	}

	if err := checkIfInstallable(chartRequested); err != nil {
		return nil, err
	}

	if chartRequested.Metadata.Deprecated {
		warning("This chart is deprecated")
	}

	if req := chartRequested.Metadata.Dependencies; req != nil {
		if err := action.CheckDependencies(chartRequested, req); err != nil {
			// (--dependency-update is not a flag here)
			err = pkgerrors.Wrap(err, "An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies")
			return nil, err
		}
	}

	client.Namespace = settings.Namespace()
	if !client.SkipSchemaValidation && valuesPassSchemas(chartRequested, vals) {
		client.SkipSchemaValidation = true // checked already, with schemas compiled once (schemacheck.go)
	}

	// (validateDryRunOptionFlag: "true" is valid)
	return client.RunWithContext(context.Background(), chartRequested, vals)
}

func checkIfInstallable(ch *chart.Chart) error {
	switch ch.Metadata.Type {
	case "", "application":
		return nil
	}
	return pkgerrors.Errorf("%s charts are not installable", ch.Metadata.Type)
}

// --- values: pkg/cli/values.Options.MergeValues with "-" read from the request ------

type valueOptions struct {
	ValueFiles    []string
	StringValues  []string
	Values        []string
	FileValues    []string
	JSONValues    []string
	LiteralValues []string
}

// stdinOnce is the request's stdin: helm reads all of it at the first "-".
type stdinOnce struct {
	data []byte
	read bool
}

func (opts *valueOptions) MergeValues(p getter.Providers, stdin *stdinOnce) (map[string]interface{}, error) {
	base := map[string]interface{}{}

	for _, filePath := range opts.ValueFiles {
		currentMap := map[string]interface{}{}

		bytes, err := readFile(filePath, p, stdin)
		if err != nil {
			return nil, err
		}

		if err := yaml.Unmarshal(bytes, &currentMap); err != nil {
			return nil, pkgerrors.Wrapf(err, "failed to parse %s", filePath)
		}
		base = mergeMaps(base, currentMap)
	}

	for _, value := range opts.JSONValues {
		if err := strvals.ParseJSON(value, base); err != nil {
			return nil, pkgerrors.Errorf("failed parsing --set-json data %s", value)
		}
	}

	for _, value := range opts.Values {
		if err := strvals.ParseInto(value, base); err != nil {
			return nil, pkgerrors.Wrap(err, "failed parsing --set data")
		}
	}

	for _, value := range opts.StringValues {
		if err := strvals.ParseIntoString(value, base); err != nil {
			return nil, pkgerrors.Wrap(err, "failed parsing --set-string data")
		}
	}

	for _, value := range opts.FileValues {
		reader := func(rs []rune) (interface{}, error) {
			bytes, err := readFile(string(rs), p, stdin)
			if err != nil {
				return nil, err
			}
			return string(bytes), err
		}
		if err := strvals.ParseIntoFile(value, base, reader); err != nil {
			return nil, pkgerrors.Wrap(err, "failed parsing --set-file data")
		}
	}

	for _, value := range opts.LiteralValues {
		if err := strvals.ParseLiteralInto(value, base); err != nil {
			return nil, pkgerrors.Wrap(err, "failed parsing --set-literal data")
		}
	}

	return base, nil
}

func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if v, ok := v.(map[string]interface{}); ok {
			if bv, ok := out[k]; ok {
				if bv, ok := bv.(map[string]interface{}); ok {
					out[k] = mergeMaps(bv, v)
					continue
				}
			}
		}
		out[k] = v
	}
	return out
}

// readFile is pkg/cli/values.readFile with "-" read from the request; remote files
// fall back.
func readFile(filePath string, p getter.Providers, stdin *stdinOnce) ([]byte, error) {
	if strings.TrimSpace(filePath) == "-" {
		if stdin.read {
			return []byte{}, nil
		}
		stdin.read = true
		return stdin.data, nil
	}
	u, err := url.Parse(filePath)
	if err != nil {
		return nil, err
	}
	if _, err := p.ByScheme(u.Scheme); err != nil {
		return os.ReadFile(filePath)
	}
	return nil, fallback("values from a URL: " + filePath)
}

// --- the chart cache ----------------------------------------------------------------

type cached struct {
	stamp string
	chart *chart.Chart
	err   error
	logs  []byte // what loading printed (helm prints it on every call)
}

// maxCharts: loaded charts kept at most (each is a few hundred kB).
const maxCharts = 64

// stamp: every file's path, size and modification time under a chart directory (or
// of a chart archive). A chart that changes is loaded again. (Symlinked directories,
// which helm's loader follows, are not walked: chartmatrix renders staged copies.)
func stampOf(path string) (string, error) {
	var b strings.Builder
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s\x00%d\x00%d\x00%d\n", p, info.Size(), info.ModTime().UnixNano(), info.Mode())
		return nil
	})
	return b.String(), err
}

func load(cp string, cache map[string]*cached) (*chart.Chart, error) {
	stamp, err := stampOf(cp)
	if err != nil {
		return nil, fallback("cannot read chart: " + err.Error())
	}
	c, ok := cache[cp]
	if !ok || c.stamp != stamp {
		if len(cache) >= maxCharts {
			clear(cache) // a run uses a few charts; a long session must not grow without end
		}
		mark := errOut.buf.Len()
		ch, lerr := loader.Load(cp)
		c = &cached{stamp: stamp, chart: ch, err: lerr}
		c.logs = append([]byte(nil), errOut.buf.Bytes()[mark:]...)
		cache[cp] = c
	} else {
		errOut.buf.Write(c.logs)
	}
	if c.err != nil {
		return nil, c.err
	}
	return cloneChart(c.chart), nil
}

// cloneChart copies what rendering modifies: Metadata (dependency processing renames
// aliases, flags and drops dependencies), Values (import-values replaces them) and the
// dependency tree (disabled subcharts are removed). Files and templates are shared.
func cloneChart(c *chart.Chart) *chart.Chart {
	out := *c
	if c.Metadata != nil {
		md := *c.Metadata
		if c.Metadata.Dependencies != nil {
			md.Dependencies = make([]*chart.Dependency, len(c.Metadata.Dependencies))
			for i, d := range c.Metadata.Dependencies {
				if d != nil {
					dd := *d
					dd.Tags = append([]string(nil), d.Tags...)
					dd.ImportValues = copyList(d.ImportValues)
					md.Dependencies[i] = &dd
				}
			}
		}
		out.Metadata = &md
	}
	if c.Values != nil {
		out.Values = copyMap(c.Values)
	}
	kids := make([]*chart.Chart, 0, len(c.Dependencies()))
	for _, d := range c.Dependencies() {
		kids = append(kids, cloneChart(d))
	}
	out.SetDependencies(kids...)
	return &out
}

func copyValue(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		return copyMap(t)
	case []interface{}:
		return copyList(t)
	default:
		return v
	}
}

func copyMap(m map[string]interface{}) map[string]interface{} {
	if m == nil {
		return nil
	}
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyList(l []interface{}) []interface{} {
	if l == nil {
		return nil
	}
	out := make([]interface{}, len(l))
	for i, v := range l {
		out[i] = copyValue(v)
	}
	return out
}

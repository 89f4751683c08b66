// The values schema check without compiling the schemas on every render (as in the v4
// worker's schemacheck.go: Helm v3 checks values with the same jsonschema library and
// compiles each chart's values.schema.json on every `helm template`).
//
// The worker checks the values first, as Helm v3 would (dependencies processed with
// merge and values coalesced on copies, then every chart's schema against its values),
// with each schema compiled once per content. When that check passes, Helm's own is
// skipped: it would pass too. Whenever the answer is not a clear pass (a failing value,
// a schema that needs a loader, anything unexpected), Helm checks as always, so every
// message is its own.
package main

import (
	"bytes"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// compiledSchemas: schema text -> compiled schema, or nil when it does not compile here.
var compiledSchemas sync.Map

// valuesPassSchemas reports whether Helm's values schema check of this chart and values
// would pass. It changes neither; what it logs is dropped (Helm logs it again).
func valuesPassSchemas(c *chart.Chart, vals map[string]interface{}) (pass bool) {
	mark := errOut.buf.Len()
	defer func() {
		if recover() != nil {
			pass = false
		}
		errOut.buf.Truncate(mark)
	}()
	c = cloneChart(c)
	v := copyMap(vals)
	if err := chartutil.ProcessDependenciesWithMerge(c, v); err != nil {
		return false
	}
	coalesced, err := chartutil.CoalesceValues(c, v)
	if err != nil {
		return false
	}
	return chartPasses(c, coalesced.AsMap())
}

// chartPasses walks the chart and its dependencies as Helm's ValidateAgainstSchema does.
func chartPasses(c *chart.Chart, vals map[string]interface{}) bool {
	if c.Schema != nil {
		schema := compiledSchema(c.Schema)
		if schema == nil || schema.Validate(vals) != nil {
			return false
		}
	}
	for _, sub := range c.Dependencies() {
		raw, exists := vals[sub.Name()]
		if !exists || raw == nil {
			continue
		}
		subVals, ok := raw.(map[string]interface{})
		if !ok || !chartPasses(sub, subVals) {
			return false
		}
	}
	return true
}

// compiledSchema compiles a values.schema.json the way Helm does, except that nothing is
// loaded: a schema that refers to a file, URL or URN is nil here and left to Helm.
func compiledSchema(text []byte) *jsonschema.Schema {
	if found, ok := compiledSchemas.Load(string(text)); ok {
		return found.(*jsonschema.Schema)
	}
	var out *jsonschema.Schema
	if doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(text)); err == nil {
		compiler := jsonschema.NewCompiler()
		compiler.UseLoader(jsonschema.SchemeURLLoader{}) // no scheme: every load fails
		if compiler.AddResource("file:///values.schema.json", doc) == nil {
			out, _ = compiler.Compile("file:///values.schema.json")
		}
	}
	compiledSchemas.Store(string(text), out)
	return out
}

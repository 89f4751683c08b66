// Package engine: this file is not built on its own. tools/renderworker/engine/overlay.py
// adds it to Helm's own pkg/engine (v3 and v4) when bootstrap builds the render workers,
// and routes the engine's parse loop through parseTemplates.
//
// Helm parses every template file of a chart and its subcharts on every render. A render
// worker renders the same chart many times, so it keeps the parse trees of each set of
// template files it has seen and associates them with the next render's template set
// (text/template's AddParseTree) instead of parsing the same text again. The trees are
// never changed by executing them, and the set's functions are bound per render as
// before, so the output is Helm's own: the render workers' parity tests compare it with
// `helm template` byte for byte.
package engine

import (
	"hash/maphash"
	"sync"
	"text/template"
	"text/template/parse"
)

// ParseCacheSize is how many template sets are kept; 0 (the default) parses every
// render, as Helm does. The workers set it to WorkerParseCacheSize.
var ParseCacheSize = 0

// WorkerParseCacheSize: a render worker renders a few charts (and subchart sets) many times.
const WorkerParseCacheSize = 32

// parsedSet is what parsing one set of template files left in the template set.
type parsedSet struct {
	files []string // file names, in parse order
	texts []string // their sources: a hit must match them exactly, not only the hash
	names []string // every template defined, files and `define`s
	trees []*parse.Tree
}

var parsed = struct {
	sync.Mutex
	seed  maphash.Seed
	sets  map[uint64]*parsedSet
	order []uint64 // oldest first
}{seed: maphash.MakeSeed(), sets: map[uint64]*parsedSet{}}

// parseTemplates parses the files into t in Helm's order, or installs the trees a
// previous render of the same files produced.
func parseTemplates(t *template.Template, keys []string, tpls map[string]renderable) error {
	if ParseCacheSize <= 0 {
		return parseFiles(t, keys, tpls)
	}
	key := parseKey(keys, tpls)
	parsed.Lock()
	defer parsed.Unlock()
	if set := parsed.sets[key]; set != nil && set.matches(keys, tpls) {
		for i, name := range set.names {
			if _, err := t.AddParseTree(name, set.trees[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := parseFiles(t, keys, tpls); err != nil {
		return err
	}
	remember(key, keys, tpls, t)
	return nil
}

// parseFiles is Helm's own loop.
func parseFiles(t *template.Template, keys []string, tpls map[string]renderable) error {
	for _, filename := range keys {
		if _, err := t.New(filename).Parse(tpls[filename].tpl); err != nil {
			return cleanupParseError(filename, err)
		}
	}
	return nil
}

func parseKey(keys []string, tpls map[string]renderable) uint64 {
	var h maphash.Hash
	h.SetSeed(parsed.seed)
	for _, k := range keys {
		h.WriteString(k)
		h.WriteByte(0)
		h.WriteString(tpls[k].tpl)
		h.WriteByte(0)
	}
	return h.Sum64()
}

func (s *parsedSet) matches(keys []string, tpls map[string]renderable) bool {
	if len(keys) != len(s.files) {
		return false
	}
	for i, k := range keys {
		if k != s.files[i] || tpls[k].tpl != s.texts[i] {
			return false
		}
	}
	return true
}

// remember keeps t's trees under key, dropping the oldest set beyond ParseCacheSize.
func remember(key uint64, keys []string, tpls map[string]renderable, t *template.Template) {
	set := &parsedSet{files: append([]string(nil), keys...)}
	for _, k := range keys {
		set.texts = append(set.texts, tpls[k].tpl)
	}
	for _, tmpl := range t.Templates() {
		if tmpl.Tree != nil {
			set.names = append(set.names, tmpl.Name())
			set.trees = append(set.trees, tmpl.Tree)
		}
	}
	if _, seen := parsed.sets[key]; !seen {
		parsed.order = append(parsed.order, key)
	}
	parsed.sets[key] = set
	for len(parsed.order) > ParseCacheSize {
		delete(parsed.sets, parsed.order[0])
		parsed.order = parsed.order[1:]
	}
}

// Package releaseutil: this file is not built on its own. patched_helm.py adds it to
// the package of Helm's manifest sorter (v3 pkg/releaseutil, v4 pkg/release/v1/util;
// the package clause is rewritten to match) when bootstrap builds the render workers,
// and routes the sorter's parse of each manifest through unmarshalHead.
//
// To order a render's manifests and find its hooks, Helm parses every rendered
// manifest whole (YAML to JSON to a SimpleHead), on every render: for charts with large
// documents (CRDs), most of a render. A render worker renders the same chart with many
// values sets, and most documents come out the same text in many of them, so it keeps
// what each text parsed to (the head, or the error) and hands a copy to the next render
// of that exact text. Same input, same function, same result: the render workers'
// parity tests compare the output with `helm template` byte for byte.
package releaseutil

import (
	"strings"
	"sync"

	"sigs.k8s.io/yaml"
)

// HeadCacheBytes bounds the manifest text kept per generation; 0 (the default) parses
// every manifest, as Helm does. The workers set it to WorkerHeadCacheBytes.
var HeadCacheBytes = 0

// WorkerHeadCacheBytes: two generations of 16 MB of manifest text at most.
const WorkerHeadCacheBytes = 16 << 20

type parsedHead struct {
	head SimpleHead
	err  error
}

// heads: the current generation, and the previous one, whose entries are moved up when
// read; when the current one is full it becomes the previous (the oldest are dropped).
var heads = struct {
	sync.Mutex
	current, previous map[string]*parsedHead
	bytes             int
}{current: map[string]*parsedHead{}, previous: map[string]*parsedHead{}}

// unmarshalHead is yaml.Unmarshal([]byte(m), entry), remembered by the text of m.
func unmarshalHead(m string, entry *SimpleHead) error {
	if HeadCacheBytes <= 0 {
		return yaml.Unmarshal([]byte(m), entry)
	}
	heads.Lock()
	defer heads.Unlock()
	found := heads.current[m]
	if found == nil {
		if found = heads.previous[m]; found == nil {
			found = &parsedHead{}
			found.err = yaml.Unmarshal([]byte(m), &found.head)
		}
		if heads.bytes+len(m) > HeadCacheBytes {
			heads.previous, heads.current, heads.bytes = heads.current, map[string]*parsedHead{}, 0
		}
		// a copy: m shares the memory of its whole rendered file, which it would keep
		heads.current[strings.Clone(m)] = found
		heads.bytes += len(m)
	}
	*entry = copyHead(found.head)
	return found.err
}

// copyHead: each manifest gets a head of its own, as a fresh parse would give it.
func copyHead(h SimpleHead) SimpleHead {
	if h.Metadata != nil {
		metadata := *h.Metadata
		if metadata.Annotations != nil {
			annotations := make(map[string]string, len(metadata.Annotations))
			for k, v := range metadata.Annotations {
				annotations[k] = v
			}
			metadata.Annotations = annotations
		}
		h.Metadata = &metadata
	}
	return h
}

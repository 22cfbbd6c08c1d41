// Writes the OpenAPI v3 component schemas of the given Kubernetes types as openapi-gen generates them
// from k8s.io/api (the generator and definitions the API server's own /openapi/v3 is built from),
// keeping only the closure of the named roots, without descriptions (test data: shape, not prose).
package main

import (
	"encoding/json"
	"os"
	"sort"
	"strings"

	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/util"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"relaykit.local/k8s-openapi/gen"
)

func name(goName string) string {
	if strings.Contains(goName, "/") {
		return util.ToRESTFriendlyName(goName)
	}
	return goName
}

func main() {
	defs := gen.GetOpenAPIDefinitions(func(path string) spec.Ref {
		return spec.MustCreateRef("#/components/schemas/" + common.EscapeJsonPointer(name(path)))
	})
	byName := map[string]spec.Schema{}
	for k, d := range defs {
		s := d.Schema
		delete(s.Extensions, common.ExtensionV2Schema)
		byName[name(k)] = s
	}
	keep := map[string]bool{}
	var walk func(n string)
	walk = func(n string) {
		if keep[n] {
			return
		}
		keep[n] = true
		b, _ := json.Marshal(byName[n])
		for _, part := range strings.Split(string(b), `"$ref":"#/components/schemas/`)[1:] {
			walk(part[:strings.Index(part, `"`)])
		}
	}
	for _, root := range os.Args[1:] {
		if _, ok := byName[root]; !ok {
			panic("no definition " + root)
		}
		walk(root)
	}
	names := make([]string, 0, len(keep))
	for n := range keep {
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string]spec.Schema{}
	for _, n := range names {
		out[n] = byName[n]
	}
	raw, _ := json.Marshal(map[string]any{"components": map[string]any{"schemas": out}})
	var tree any
	_ = json.Unmarshal(raw, &tree)
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(strip(tree)); err != nil {
		panic(err)
	}
}

// strip drops the prose: every "description" string of a schema (a property named description
// would be an object, and stays).
func strip(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if _, isText := x.(string); k == "description" && isText {
				delete(t, k)
				continue
			}
			t[k] = strip(x)
		}
	case []any:
		for i, x := range t {
			t[i] = strip(x)
		}
	}
	return v
}

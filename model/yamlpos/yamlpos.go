// Package yamlpos maps the field paths of a decoded YAML document to their line
// numbers, so decoders can name the line of a bad field (DESIGN.md habit 6). It is
// shared by the scenario loader (model/scenario) and the manifest reader
// (model/manifest); it parses nothing itself and does no I/O.
package yamlpos

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// IndexLines records in out the line of every field path below n, in the path
// syntax of encoding/json's and the strict decoders' errors: a.b[0].c. path is
// n's own path ("" for the document root).
func IndexLines(n *yaml.Node, path string, out map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			out[p] = k.Line
			IndexLines(v, p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			out[p] = c.Line
			IndexLines(c, p, out)
		}
	}
}

package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

var typeOfConfig = reflect.TypeFor[Config]()

// checkKeys walks the document beside the Go type and reports every key the type
// does not have, with its line and the keys that are allowed there. yaml.v3's own
// KnownFields stops at the first unknown key and names Go types; a technician
// needs all of them, in words.
func checkKeys(file, prefix string, n *yaml.Node, t reflect.Type) Errors {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// A list of sections (hospital.departments) is checked entry by entry; a
	// list given where a section belongs is left to the decoder's type error.
	if t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode {
		var es Errors
		for i, item := range n.Content {
			es = append(es, checkKeys(file, fmt.Sprintf("%s[%d]", prefix, i), item, t.Elem())...)
		}
		return es
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[Duration]() {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return nil // an empty section keeps its defaults
		}
		return Errors{{File: file, Line: n.Line, Key: prefix, Msg: fmt.Sprintf("expected a section with keys %s", strings.Join(yamlKeys(t), ", "))}}
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
	}
	var es Errors
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := join(prefix, k.Value)
		ft, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key %q; expected one of %s", k.Value, strings.Join(yamlKeys(t), ", "))
			if prefix == "" {
				key = ""
			} else {
				key = prefix
			}
			es = append(es, &Error{File: file, Line: k.Line, Key: key, Msg: msg})
			continue
		}
		es = append(es, checkKeys(file, key, v, ft)...)
	}
	return es
}

func yamlKeys(t reflect.Type) []string {
	var ks []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			ks = append(ks, name)
		}
	}
	sort.Strings(ks)
	return ks
}

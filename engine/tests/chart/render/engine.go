package main

// The template engine: Go's text/template with sprig's TxtFuncMap, as Helm 3
// builds it (docs/kubernetes.md#the-offline-rendering-test). Helm's own
// functions are re-implemented here with Helm's semantics: include (with
// its recursion guard), required, toYaml, toJson, fromYaml, fromJson, and
// lookup. lookup answers an empty map, as Helm does without a cluster
// (`helm template`), unless the object is among those given with
// --existing: what a cluster would hold on an upgrade. Not provided: tpl,
// toToml, .Capabilities, and the .Files helpers other than Get, GetBytes
// and Lines; a chart that uses them fails to parse or to execute here,
// which is the point.

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"gopkg.in/yaml.v2"
)

// files is .Files: the chart's non-template files by relative path.
type files map[string][]byte

// Get returns the file's content, or "" when there is no such file (Helm
// does not fail there either; a chart that must have the file wraps Get in
// `required`).
func (f files) Get(name string) string { return string(f[name]) }

// GetBytes returns the file's content as bytes, nil when missing.
func (f files) GetBytes(name string) []byte { return f[name] }

// Lines returns the file's lines, without a last empty one.
func (f files) Lines(name string) []string {
	s := string(f[name])
	if s == "" {
		return []string{}
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

const recursionLimit = 1000

// requiredError marks the message of `required` so the error printed is the
// chart's message, not text/template's wrapping of it.
type requiredError struct{ msg string }

func (e requiredError) Error() string { return e.msg }

func toYAML(v interface{}) string {
	// Helm marshals through JSON first: the same key order (sorted) and the
	// same rendering of numbers and strings as `helm template`.
	j, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var obj interface{}
	if err := yaml.Unmarshal(j, &obj); err != nil {
		return ""
	}
	data, err := yaml.Marshal(obj)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromYAML(s string) map[string]interface{} {
	m, err := parseValuesYAML([]byte(s), "fromYaml")
	if err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	return m
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

type rendered struct {
	name string // e.g. "loadpilot/templates/nats.yaml"
	text string
}

// renderChart executes every template that is not a partial (a base name
// starting with "_"), in Helm's order, with Helm's top-level object.
func renderChart(c *loadedChart, values map[string]interface{}, releaseName, namespace string,
	existing []map[string]interface{}) ([]rendered, error) {
	t := template.New("gotpl").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	depth := map[string]int{}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if depth[name] > recursionLimit {
			return "", fmt.Errorf("include %q: nested more than %d deep", name, recursionLimit)
		}
		depth[name]++
		defer func() { depth[name]-- }()
		var b strings.Builder
		err := t.ExecuteTemplate(&b, name, data)
		return b.String(), err
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if s, isString := v.(string); v == nil || (isString && s == "") {
			return v, requiredError{msg}
		}
		return v, nil
	}
	funcs["toYaml"] = toYAML
	funcs["toJson"] = toJSON
	funcs["fromYaml"] = fromYAML
	funcs["fromJson"] = fromJSON
	funcs["lookup"] = func(apiVersion, kind, ns, name string) (map[string]interface{}, error) {
		if name == "" {
			return nil, fmt.Errorf("lookup %s %s %q: listing objects is not supported by this renderer", apiVersion, kind, ns)
		}
		for _, o := range existing {
			meta, _ := o["metadata"].(map[string]interface{})
			objNS, _ := meta["namespace"].(string)
			if objNS == "" {
				objNS = namespace
			}
			if o["apiVersion"] == apiVersion && o["kind"] == kind && meta["name"] == name && objNS == ns {
				return deepCopy(o).(map[string]interface{}), nil
			}
		}
		return map[string]interface{}{}, nil
	}
	t.Funcs(funcs)

	names := make([]string, 0, len(c.templates))
	for n := range c.templates {
		names = append(names, path.Join(c.meta.Name, n))
	}
	sortLikeHelm(names)
	for _, n := range names {
		src := c.templates[strings.TrimPrefix(n, c.meta.Name+"/")]
		if _, err := t.New(n).Parse(src); err != nil {
			return nil, fmt.Errorf("parse error: %v", err)
		}
	}

	top := map[string]interface{}{
		"Values": values,
		"Chart":  &c.meta,
		"Files":  files(c.files),
		"Release": map[string]interface{}{
			"Name": releaseName, "Namespace": namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
	}
	var out []rendered
	for _, n := range names {
		if strings.HasPrefix(path.Base(n), "_") {
			continue
		}
		top["Template"] = map[string]interface{}{"Name": n, "BasePath": path.Join(c.meta.Name, "templates")}
		var b strings.Builder
		if err := t.ExecuteTemplate(&b, n, top); err != nil {
			return nil, execError(err)
		}
		out = append(out, rendered{n, strings.ReplaceAll(b.String(), "<no value>", "")})
	}
	return out, nil
}

// execError keeps text/template's location ("template: NAME:LINE:COL: ...")
// and, for `required`, replaces its call chain with the chart's message.
func execError(err error) error {
	msg := err.Error()
	var req requiredError
	if findRequired(err, &req) {
		loc := ""
		if parts := strings.SplitN(msg, ": ", 3); len(parts) == 3 {
			loc = parts[1]
		}
		return fmt.Errorf("execution error at (%s): %s", loc, req.msg)
	}
	return fmt.Errorf("execution error: %s", msg)
}

func findRequired(err error, out *requiredError) bool {
	for err != nil {
		if r, ok := err.(requiredError); ok {
			*out = r
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// sortLikeHelm orders templates as Helm parses them: fewer path segments
// first, then by name.
func sortLikeHelm(names []string) {
	sort.Slice(names, func(i, j int) bool {
		ci, cj := strings.Count(names[i], "/"), strings.Count(names[j], "/")
		if ci != cj {
			return ci < cj
		}
		return names[i] < names[j]
	})
}

var manifestSep = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

// splitManifests cuts a rendered template into its YAML documents, dropping
// empty ones, as Helm does before it sends them.
func splitManifests(text string) []string {
	var docs []string
	for _, d := range manifestSep.Split(text, -1) {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, strings.TrimSpace(d))
		}
	}
	return docs
}

// checkManifest parses one document as the API server would need it: YAML,
// a map, with apiVersion, kind and metadata.name.
func checkManifest(source, doc string) error {
	var head struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
	}
	if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
		return fmt.Errorf("YAML parse error on %s: %v", source, err)
	}
	if head.APIVersion == "" || head.Kind == "" || head.Metadata.Name == "" {
		return fmt.Errorf("%s: a document without apiVersion, kind or metadata.name:\n%s", source, doc)
	}
	return nil
}

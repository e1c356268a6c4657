package main

// Loading a chart folder the way Helm 3 does (docs/kubernetes.md#the-offline-rendering-test):
// every file is walked in lexical order and symbolic links are followed, so a
// link inside the chart contributes the content of the file it points to,
// under the link's own name. Files under templates/ are templates; Chart.yaml
// and values.yaml are read; everything else is reachable with .Files.Get. A
// UTF-8 byte order mark at the start of a file is dropped, as Helm drops it.
//
// Refused, because the renderer would otherwise silently differ from Helm:
// subcharts (charts/, dependencies), .helmignore, values.schema.json.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v2"
)

// chartMetadata is .Chart: the fields of Chart.yaml under Helm's Go names,
// so `.Chart.Name` and `.Chart.AppVersion` read as they do in Helm.
type chartMetadata struct {
	APIVersion   string            `yaml:"apiVersion"`
	Name         string            `yaml:"name"`
	Version      string            `yaml:"version"`
	AppVersion   string            `yaml:"appVersion"`
	Description  string            `yaml:"description"`
	Type         string            `yaml:"type"`
	KubeVersion  string            `yaml:"kubeVersion"`
	Home         string            `yaml:"home"`
	Icon         string            `yaml:"icon"`
	Keywords     []string          `yaml:"keywords"`
	Sources      []string          `yaml:"sources"`
	Annotations  map[string]string `yaml:"annotations"`
	Deprecated   bool              `yaml:"deprecated"`
	Dependencies []interface{}     `yaml:"dependencies"`
}

type loadedChart struct {
	meta      chartMetadata
	values    map[string]interface{}
	templates map[string]string // "templates/x.yaml" -> source
	files     map[string][]byte // every other file, by chart-relative path
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func loadChart(dir string) (*loadedChart, error) {
	raw := map[string][]byte{}
	if err := walkFollowingLinks(dir, "", raw, map[string]bool{}); err != nil {
		return nil, err
	}
	c := &loadedChart{templates: map[string]string{}, files: map[string][]byte{}}
	chartYAML, ok := raw["Chart.yaml"]
	if !ok {
		return nil, fmt.Errorf("%s: no Chart.yaml", dir)
	}
	if err := yaml.UnmarshalStrict(chartYAML, &c.meta); err != nil {
		return nil, fmt.Errorf("%s/Chart.yaml: %v", dir, err)
	}
	switch {
	case c.meta.APIVersion != "v2":
		return nil, fmt.Errorf("%s/Chart.yaml: apiVersion %q: only v2 (Helm 3) charts are supported", dir, c.meta.APIVersion)
	case c.meta.Name == "" || c.meta.Version == "":
		return nil, fmt.Errorf("%s/Chart.yaml: name and version are required", dir)
	case len(c.meta.Dependencies) > 0:
		return nil, fmt.Errorf("%s/Chart.yaml: dependencies are not supported by this renderer", dir)
	case c.meta.Type != "" && c.meta.Type != "application":
		return nil, fmt.Errorf("%s/Chart.yaml: type %q: only application charts are supported", dir, c.meta.Type)
	}
	c.values = map[string]interface{}{}
	for name, data := range raw {
		switch {
		case name == "Chart.yaml":
		case name == "values.yaml":
			v, err := parseValuesYAML(data, filepath.Join(dir, name))
			if err != nil {
				return nil, err
			}
			c.values = v
		case name == ".helmignore" || name == "values.schema.json" || strings.HasPrefix(name, "charts/"):
			return nil, fmt.Errorf("%s/%s: not supported by this renderer", dir, name)
		case strings.HasPrefix(name, "templates/"):
			c.templates[name] = string(data)
		default:
			c.files[name] = data
		}
	}
	return c, nil
}

// walkFollowingLinks reads every regular file under dir/rel into out. A
// symbolic link is resolved and walked as what it points to; a link cycle
// (a folder linking to one of its parents) is an error.
func walkFollowingLinks(dir, rel string, out map[string][]byte, active map[string]bool) error {
	full := filepath.Join(dir, rel)
	info, err := os.Stat(full) // follows links
	if err != nil {
		return fmt.Errorf("%s: %v", full, err)
	}
	if !info.IsDir() {
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file", full)
		}
		data, err := os.ReadFile(full)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = bytes.TrimPrefix(data, utf8BOM)
		return nil
	}
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		return err
	}
	if active[real] {
		return fmt.Errorf("%s: symbolic link cycle", full)
	}
	active[real] = true
	defer delete(active, real)
	entries, err := os.ReadDir(full)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		if err := walkFollowingLinks(dir, filepath.Join(rel, name), out, active); err != nil {
			return err
		}
	}
	return nil
}

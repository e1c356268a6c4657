// chart-render renders a Helm 3 chart without Helm, for the chart tests
// (engine/tests/chart/, docs/kubernetes.md#the-offline-rendering-test).
//
//	chart-render --chart DIR [--values FILE]... [--set K=V]... [--set-string K=V]...
//	             [--release-name NAME] [--namespace NS] [--notes FILE] [--existing FILE]...
//
// It prints every manifest as `helm template` does, each after
// "---\n# Source: CHART/templates/FILE\n", templates in Helm's parse order
// (not sorted by kind), and writes the rendered NOTES.txt to --notes.
// --existing names a YAML file of objects that `lookup` finds, standing for
// the cluster of an upgrade; without it lookup finds nothing, as in
// `helm template`.
// Exit codes: 0 rendered; 1 the chart does not render (template error,
// `required` value missing, a document that is not YAML or has no
// apiVersion, kind or metadata.name); 2 bad usage or an unsupported chart
// or --set form. Every error names the file or argument at fault.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chart-render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	chartDir := fs.String("chart", "", "the chart folder")
	release := fs.String("release-name", "loadpilot", ".Release.Name")
	namespace := fs.String("namespace", "default", ".Release.Namespace")
	notesOut := fs.String("notes", "", "write the rendered templates/NOTES.txt here")
	var valueFiles, sets, setStrings, existingFiles multiFlag
	fs.Var(&existingFiles, "existing", "a YAML file of objects lookup finds (repeatable)")
	fs.Var(&valueFiles, "values", "a values file, as helm -f (repeatable)")
	fs.Var(&sets, "set", "key=value, as helm --set (repeatable)")
	fs.Var(&setStrings, "set-string", "key=value kept as a string, as helm --set-string (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(code int, format string, a ...interface{}) int {
		fmt.Fprintf(stderr, "chart-render: error: "+format+"\n", a...)
		return code
	}
	if *chartDir == "" || fs.NArg() != 0 {
		return fail(2, "usage: chart-render --chart DIR [--values FILE]... [--set K=V]... (unexpected %q)", fs.Args())
	}

	chart, err := loadChart(*chartDir)
	if err != nil {
		return fail(2, "%v", err)
	}
	user := map[string]interface{}{}
	for _, f := range valueFiles {
		v, err := readValuesFile(f)
		if err != nil {
			return fail(2, "--values %v", err)
		}
		mergeUser(user, v)
	}
	for _, s := range sets {
		if err := parseSet(s, user, false); err != nil {
			return fail(2, "%v", err)
		}
	}
	for _, s := range setStrings {
		if err := parseSet(s, user, true); err != nil {
			return fail(2, "%v", err)
		}
	}
	var existing []map[string]interface{}
	for _, f := range existingFiles {
		objs, err := readObjects(f)
		if err != nil {
			return fail(2, "--existing %v", err)
		}
		existing = append(existing, objs...)
	}
	values := coalesce(user, chart.values, "", func(w string) { fmt.Fprintf(stderr, "chart-render: warning: %s\n", w) })

	out, err := renderChart(chart, values, *release, *namespace, existing)
	if err != nil {
		return fail(1, "%v", err)
	}
	var b strings.Builder
	for _, r := range out {
		if strings.HasSuffix(r.name, "/templates/NOTES.txt") {
			if *notesOut != "" {
				if err := os.WriteFile(*notesOut, []byte(r.text), 0o644); err != nil {
					return fail(2, "--notes: %v", err)
				}
			}
			continue
		}
		for _, doc := range splitManifests(r.text) {
			if err := checkManifest(r.name, doc); err != nil {
				return fail(1, "%v", err)
			}
			fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", r.name, doc)
		}
	}
	if _, err := io.WriteString(stdout, b.String()); err != nil {
		return fail(2, "writing the manifests: %v", err)
	}
	return 0
}

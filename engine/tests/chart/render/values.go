package main

// Values as Helm 3 builds them (docs/kubernetes.md#the-offline-rendering-test):
//
//   - YAML files (values.yaml, --values) go through YAML -> JSON -> Go, so
//     every number is a float64 and every map key a string, exactly as
//     Helm's YAML library leaves them.
//   - --set values are typed the way Helm's --set parser types them: true,
//     false and null (any case), integers without a leading 0 as int64,
//     everything else a string; --set-string keeps the string.
//   - The user's values (files in order, then --set, then --set-string)
//     override the chart's values.yaml key by key; a null removes the key.

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v2"
)

// readValuesFile parses one YAML values file; an empty file is an empty map.
func readValuesFile(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseValuesYAML(data, path)
}

func parseValuesYAML(data []byte, name string) (map[string]interface{}, error) {
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if raw == nil {
		return map[string]interface{}{}, nil
	}
	v, err := jsonNormalize(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("%s: the top level is a %T, not a map", name, v)
	}
	return m, nil
}

// jsonNormalize turns yaml.v2's output into what encoding/json would have
// produced from the same document: string keys, float64 numbers.
func jsonNormalize(v interface{}) (interface{}, error) {
	data, err := json.Marshal(stringKeys(v))
	if err != nil {
		return nil, err
	}
	var out interface{}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func stringKeys(v interface{}) interface{} {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, val := range t {
			m[fmt.Sprint(k)] = stringKeys(val)
		}
		return m
	case []interface{}:
		for i := range t {
			t[i] = stringKeys(t[i])
		}
		return t
	default:
		return v
	}
}

// mergeUser merges one user source into dst, the later source winning;
// maps are merged key by key (Helm's merging of -f files and --set).
func mergeUser(dst, src map[string]interface{}) {
	for k, v := range src {
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				mergeUser(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// coalesce lays the chart's defaults under the user's values. A user null
// deletes the key; a map meeting a non-map keeps the user's value with a
// warning, as Helm does.
func coalesce(user, defaults map[string]interface{}, path string, warn func(string)) map[string]interface{} {
	for k, dv := range defaults {
		uv, present := user[k]
		if !present {
			user[k] = deepCopy(dv)
			continue
		}
		if uv == nil {
			delete(user, k)
			continue
		}
		um, uIsMap := uv.(map[string]interface{})
		dm, dIsMap := dv.(map[string]interface{})
		switch {
		case uIsMap && dIsMap:
			coalesce(um, dm, path+k+".", warn)
		case uIsMap != dIsMap && dv != nil:
			warn(fmt.Sprintf("values: %s%s: a map and a non-map meet; the given value wins", path, k))
		}
	}
	dropNulls(user)
	return user
}

func dropNulls(m map[string]interface{}) {
	for k, v := range m {
		switch t := v.(type) {
		case nil:
			delete(m, k)
		case map[string]interface{}:
			dropNulls(t)
		}
	}
}

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, val := range t {
			m[k] = deepCopy(val)
		}
		return m
	case []interface{}:
		l := make([]interface{}, len(t))
		for i, val := range t {
			l[i] = deepCopy(val)
		}
		return l
	default:
		return v
	}
}

// parseSet applies one --set (or --set-string, asString) argument to dst:
// comma-separated key=value pairs, keys split at dots, with a backslash
// escaping the next character. List syntax (a[0]=x, a={x,y}) is refused:
// the chart does not need it and a silent misparse would be worse.
func parseSet(arg string, dst map[string]interface{}, asString bool) error {
	runes := []rune(arg)
	i := 0
	for i < len(runes) {
		var keys []string
		var key strings.Builder
		for {
			if i >= len(runes) {
				return fmt.Errorf("--set %q: key %q has no value (expected key=value)", arg, joinKey(keys, key.String()))
			}
			c := runes[i]
			i++
			if c == '\\' && i < len(runes) {
				key.WriteRune(runes[i])
				i++
				continue
			}
			if c == '[' {
				return fmt.Errorf("--set %q: list indexes (a[0]=x) are not supported by this renderer", arg)
			}
			if c == ',' {
				return fmt.Errorf("--set %q: key %q has no value (expected key=value)", arg, joinKey(keys, key.String()))
			}
			if c == '.' || c == '=' {
				if key.Len() == 0 {
					return fmt.Errorf("--set %q: empty key part before %q", arg, string(c))
				}
				keys = append(keys, key.String())
				key.Reset()
				if c == '=' {
					break
				}
			} else {
				key.WriteRune(c)
			}
		}
		var val strings.Builder
		if i < len(runes) && runes[i] == '{' && !asString {
			return fmt.Errorf("--set %q: list values ({a,b}) are not supported by this renderer", arg)
		}
		for i < len(runes) {
			c := runes[i]
			i++
			if c == '\\' && i < len(runes) {
				val.WriteRune(runes[i])
				i++
				continue
			}
			if c == ',' {
				break
			}
			val.WriteRune(c)
		}
		var typed interface{} = val.String()
		if !asString {
			typed = typedSetValue(val.String())
		}
		setPath(dst, keys, typed)
	}
	return nil
}

func joinKey(keys []string, last string) string {
	return strings.Join(append(append([]string{}, keys...), last), ".")
}

// typedSetValue follows Helm's --set typing.
func typedSetValue(s string) interface{} {
	switch {
	case strings.EqualFold(s, "true"):
		return true
	case strings.EqualFold(s, "false"):
		return false
	case strings.EqualFold(s, "null"):
		return nil
	case s == "0":
		return int64(0)
	case s != "" && s[0] != '0':
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	return s
}

func setPath(dst map[string]interface{}, keys []string, v interface{}) {
	for _, k := range keys[:len(keys)-1] {
		next, ok := dst[k].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			dst[k] = next
		}
		dst = next
	}
	dst[keys[len(keys)-1]] = v
}

// readObjects reads a multi-document YAML file of Kubernetes objects, each
// normalised as Helm's lookup returns them (string keys, float64 numbers).
func readObjects(path string) ([]map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var objs []map[string]interface{}
	for i, doc := range splitManifests(string(data)) {
		m, err := parseValuesYAML([]byte(doc), fmt.Sprintf("%s: document %d", path, i+1))
		if err != nil {
			return nil, err
		}
		objs = append(objs, m)
	}
	return objs, nil
}

// Validates Kubernetes objects against the API's OpenAPI schemas, with the
// schema validators of the kubernetes-models package (installed by `npm ci`
// from package-lock.json into the build folder; NODE_PATH points there).
//
//   node validate.cjs < objects.json > report.json
//
// stdin: a JSON array of objects. stdout: a JSON array with one entry per
// object, in order: {"ref": "Kind/name", "errors": ["...", ...]}. Exit code
// 0 when the report was written (whatever it holds), 2 on bad input.
//
// Two kinds of errors are reported:
// - schema errors: a missing required field, a wrong type, a value outside
//   an enum, as the schema's validator words them;
// - unknown fields. The API's schemas do not forbid extra properties, so a
//   misspelt field (`readinesProbe`) would pass them and be dropped by the
//   API server. The validator reads exactly the properties its schema
//   defines (and every key of a map-typed field, such as labels), so each
//   object is validated through proxies that record which keys were read;
//   a key that no validator read is one the schema does not define. The
//   chart test checks this detection on a deliberate typo
//   (engine/tests/chart/test_render.py).
"use strict";

const fs = require("fs");

function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    return { error: "apiVersion and kind must be strings" };
  }
  if (!/^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/.test(apiVersion)) {
    return { error: `apiVersion ${JSON.stringify(apiVersion)} is not GROUP/VERSION` };
  }
  let group;
  try {
    group = require(`kubernetes-models/${apiVersion}`);
  } catch (e) {
    return { error: `unknown apiVersion ${apiVersion}` };
  }
  const Model = group[kind];
  if (typeof Model !== "function" || Model.kind !== kind) {
    return { error: `unknown kind ${kind} in ${apiVersion}` };
  }
  return { Model };
}

// Wraps value (recursively) in proxies that record each property read.
function track(value, path, seen) {
  if (value === null || typeof value !== "object") return value;
  const read = new Set();
  const copy = Array.isArray(value)
    ? value.map((v, i) => track(v, `${path}[${i}]`, seen))
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, track(v, `${path}.${k}`, seen)]));
  seen.push({ path, copy, read, isArray: Array.isArray(value) });
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === "string") read.add(key);
      return Reflect.get(target, key, receiver);
    },
  });
}

function validateOne(obj) {
  const ref = `${obj && obj.kind}/${obj && obj.metadata && obj.metadata.name}`;
  const found = modelFor(obj && obj.apiVersion, obj && obj.kind);
  if (found.error) return { ref, errors: [found.error] };
  const errors = [];
  const seen = [];
  const tracked = track(obj, "", seen);
  try {
    // The model's validate() checks `this` against the kind's schema.
    found.Model.prototype.validate.call(tracked);
  } catch (e) {
    errors.push(...String(e.message).split("\n").filter((l) => l.trim() !== ""));
  }
  const unknown = [];
  for (const s of seen) {
    if (s.isArray) continue;
    for (const key of Object.keys(s.copy)) {
      if (!s.read.has(key)) unknown.push(`${s.path}.${key}`);
    }
  }
  // Report a misspelt field once, not once more for everything under it.
  const top = unknown.filter((p) => !unknown.some((q) => p.startsWith(`${q}.`) || p.startsWith(`${q}[`)));
  errors.push(...top.map((p) => `${p}: unknown field (not in the ${obj.kind} schema)`));
  return { ref, errors };
}

function main() {
  let objects;
  try {
    objects = JSON.parse(fs.readFileSync(0, "utf8"));
  } catch (e) {
    process.stderr.write(`validate: stdin is not JSON: ${e.message}\n`);
    return 2;
  }
  if (!Array.isArray(objects)) {
    process.stderr.write("validate: stdin must hold a JSON array of objects\n");
    return 2;
  }
  process.stdout.write(JSON.stringify(objects.map(validateOne)));
  return 0;
}

process.exitCode = main();

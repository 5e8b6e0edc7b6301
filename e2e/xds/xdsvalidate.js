#!/usr/bin/env node
// xdsvalidate.js: strict proto3-JSON validation of Envoy resources against
// the real Envoy v3 protos (the ones @grpc/grpc-js-xds ships under deps/),
// with protobufjs. mizzen's tests use it to prove that what the C code emits
// (the agent's bootstrap, the operator's LDS/RDS/CDS/EDS) is what Envoy
// would accept.
//
//   node e2e/xds/xdsvalidate.js [--type <full.message.Name>] file.json ...
//
// A file holds one object or an array of objects. Each object names its
// message with "@type": "type.googleapis.com/<name>" (as an Any in proto3
// JSON); --type supplies the name for objects without one (an Envoy
// bootstrap file must not carry "@type"). Exit 0 when every object passes.
//
// protobufjs on its own accepts nearly anything, so the JSON is first walked
// against the message descriptors:
//   - field names must exist (proto name or lowerCamel JSON name),
//   - at most one member of a oneof, enum values must exist,
//   - well-known types in their proto3-JSON form (Duration "1.5s", wrappers
//     as bare scalars, Struct/Value as plain JSON, Any with a known @type,
//     resolved recursively),
//   - the protoc-gen-validate rules Envoy enforces that matter in practice
//     (message.required, string.min_len, repeated.min_items, numeric and
//     duration bounds, enum.defined_only, required oneofs).
// Then the message is encoded, decoded and re-encoded as a sanity check.
'use strict';
const fs = require('fs');
const path = require('path');
const protobuf = require('protobufjs');

const E2E = path.resolve(__dirname, '..');
const DEPS = process.env.XDS_PROTO_DEPS ||
  path.join(E2E, 'node_modules', '@grpc', 'grpc-js-xds', 'deps');
const PB_DIR = path.dirname(require.resolve('protobufjs/package.json'));
const INCLUDE = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate']
  .map(d => path.join(DEPS, d)).concat([PB_DIR]);
// protobufjs has these built in; they need no file.
const BUILTIN = new Set(['any', 'duration', 'empty', 'struct', 'timestamp',
  'wrappers', 'field_mask'].map(n => `google/protobuf/${n}.proto`));
const WRAPPERS = new Set(['Double', 'Float', 'Int64', 'UInt64', 'Int32', 'UInt32',
  'Bool', 'String', 'Bytes'].map(n => `google.protobuf.${n}Value`));

function findInclude(rel) {
  for (const d of INCLUDE) {
    const p = path.join(d, rel);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

// loadEnvoyRoot loads every envoy/**/v3/*.proto whose imports all resolve
// (a few import packages grpc-js-xds does not ship, e.g. opencensus).
function loadEnvoyRoot() {
  const envoyDir = path.join(DEPS, 'envoy-api');
  if (!fs.existsSync(envoyDir)) {
    throw new Error(`Envoy protos not found in ${DEPS}: run "npm install" in e2e/ (scripts/deps.sh)`);
  }
  const all = [];
  (function walk(dir) {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.proto') && p.includes(`${path.sep}v3${path.sep}`)) {
        all.push(path.relative(envoyDir, p));
      }
    }
  })(path.join(envoyDir, 'envoy'));

  const ok = new Map();
  const usable = (rel, seen = new Set()) => {
    if (BUILTIN.has(rel)) return true;
    if (ok.has(rel)) return ok.get(rel);
    if (seen.has(rel)) return true; // an import cycle: decided by its first visit
    seen.add(rel);
    const file = findInclude(rel);
    let good = file !== null;
    if (good) {
      const src = fs.readFileSync(file, 'utf8');
      for (const m of src.matchAll(/^import\s+(?:public\s+|weak\s+)?"([^"]+)";/gm)) {
        if (!usable(m[1], seen)) { good = false; break; }
      }
    }
    ok.set(rel, good);
    return good;
  };
  const files = all.filter(f => usable(f));
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => findInclude(target) || target;
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  root.loadedFiles = files.length;
  root.skippedFiles = all.length - files.length;
  return root;
}

// pgv returns the protoc-gen-validate rule `key` ("string.min_len") of a
// field, from the flat option form or the parsed nested form.
function pgv(field, key) {
  const flat = field.options && field.options['(validate.rules).' + key];
  if (flat !== undefined) return flat;
  for (const po of field.parsedOptions || []) {
    let v = po['(validate.rules)'];
    for (const k of key.split('.')) v = v == null ? undefined : v[k];
    if (v != null) return v;
  }
  return undefined;
}

function durationSeconds(s) {
  const m = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(s);
  if (!m) return null;
  const sign = m[1] ? -1 : 1;
  return { seconds: sign * Number(m[2]), nanos: m[3] ? sign * Number(m[3].padEnd(9, '0')) : 0 };
}

class Checker {
  constructor(root) {
    this.root = root;
    this.errors = [];
    // protobufjs' built-in struct.proto uses camelCase field names
    const V = root.lookupType('google.protobuf.Value');
    this.vk = V.fields.string_value
      ? { n: 'null_value', d: 'number_value', s: 'string_value', b: 'bool_value', o: 'struct_value', l: 'list_value' }
      : { n: 'nullValue', d: 'numberValue', s: 'stringValue', b: 'boolValue', o: 'structValue', l: 'listValue' };
  }

  fail(where, msg) { this.errors.push(`${where}: ${msg}`); }

  value(v) {
    const k = this.vk;
    if (v === null) return { [k.n]: 0 };
    if (Array.isArray(v)) return { [k.l]: { values: v.map(x => this.value(x)) } };
    if (typeof v === 'object') return { [k.o]: this.struct(v) };
    if (typeof v === 'number') return { [k.d]: v };
    if (typeof v === 'string') return { [k.s]: v };
    return { [k.b]: v };
  }

  struct(o) {
    const fields = {};
    for (const [key, v] of Object.entries(o)) fields[key] = this.value(v);
    return { fields };
  }

  // any converts {"@type": ..., ...} into {type_url, value: bytes}
  any(json, where) {
    if (json === null || typeof json !== 'object' || typeof json['@type'] !== 'string') {
      this.fail(where, 'Any needs "@type"');
      return {};
    }
    const url = json['@type'];
    const name = url.slice(url.lastIndexOf('/') + 1);
    let T = null;
    try { T = this.root.lookupType(name); } catch (e) { T = null; }
    if (!T) { this.fail(where, `unknown @type ${url}`); return {}; }
    const body = Object.assign({}, json);
    delete body['@type'];
    const wkt = T.fullName.startsWith('.google.protobuf.') && T.fullName !== '.google.protobuf.Empty';
    return { type_url: url, value: this.encode(T, this.message(T, wkt ? body.value : body, `${where}<${name}>`), where) };
  }

  encode(T, plain, where) {
    try {
      const msg = T.fromObject(plain);
      const err = T.verify(msg);
      if (err) this.fail(where, `protobufjs verify: ${err}`);
      return T.encode(msg).finish();
    } catch (e) {
      this.fail(where, `encode: ${e.message}`);
      return Buffer.alloc(0);
    }
  }

  message(T, json, where) {
    const name = T.fullName.slice(1);
    if (name === 'google.protobuf.Duration') {
      const d = typeof json === 'string' ? durationSeconds(json) : null;
      if (!d) this.fail(where, `Duration must be a string like "1.5s", got ${JSON.stringify(json)}`);
      return d || {};
    }
    if (name === 'google.protobuf.Timestamp') {
      const ms = typeof json === 'string' ? Date.parse(json) : NaN;
      if (isNaN(ms)) { this.fail(where, 'bad Timestamp'); return {}; }
      return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
    }
    if (WRAPPERS.has(name)) {
      if (json !== null && typeof json === 'object') this.fail(where, `${name} is a bare scalar in proto3 JSON`);
      return { value: this.scalar(T.fields.value, json, where) };
    }
    if (name === 'google.protobuf.Struct') {
      if (json === null || typeof json !== 'object' || Array.isArray(json)) { this.fail(where, 'Struct must be an object'); return {}; }
      return this.struct(json);
    }
    if (name === 'google.protobuf.Value') return this.value(json);
    if (name === 'google.protobuf.ListValue') return { values: (json || []).map(v => this.value(v)) };
    if (name === 'google.protobuf.FieldMask') return { paths: String(json).split(',').filter(Boolean) };
    if (name === 'google.protobuf.Any') return this.any(json, where);
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      this.fail(where, `expected an object for ${name}`);
      return {};
    }
    const byName = {};
    for (const f of T.fieldsArray) {
      byName[f.name] = f;
      byName[f.name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase())] = f;
      if (f.options && f.options.json_name) byName[f.options.json_name] = f;
    }
    const out = {};
    const oneofs = {};
    for (const [key, val] of Object.entries(json)) {
      const f = byName[key];
      const w = `${where}.${key}`;
      if (!f) { this.fail(w, `unknown field of ${name}`); continue; }
      if (val === null && !(f.resolvedType && f.resolvedType.fullName === '.google.protobuf.Value')) continue;
      if (f.partOf) {
        if (oneofs[f.partOf.name]) this.fail(w, `oneof "${f.partOf.name}" already set by "${oneofs[f.partOf.name]}"`);
        oneofs[f.partOf.name] = f.name;
      }
      if (f.map) {
        if (typeof val !== 'object' || Array.isArray(val)) { this.fail(w, 'a map must be an object'); continue; }
        out[f.name] = {};
        for (const [mk, mv] of Object.entries(val)) out[f.name][mk] = this.field(f, mv, `${w}["${mk}"]`);
      } else if (f.repeated) {
        if (!Array.isArray(val)) { this.fail(w, 'a repeated field must be an array'); continue; }
        out[f.name] = val.map((v, i) => this.field(f, v, `${w}[${i}]`));
        const min = pgv(f, 'repeated.min_items');
        if (min !== undefined && val.length < min) this.fail(w, `PGV repeated.min_items=${min}`);
      } else {
        out[f.name] = this.field(f, val, w);
      }
    }
    for (const f of T.fieldsArray) {
      if (f.partOf || out[f.name] !== undefined) continue;
      const w = `${where}.${f.name}`;
      if (pgv(f, 'message.required')) this.fail(w, 'PGV message.required: missing');
      const ml = pgv(f, 'string.min_len') || pgv(f, 'string.min_bytes');
      if (ml && f.type === 'string' && !f.repeated) this.fail(w, `PGV string.min_len=${ml}: missing`);
      const mi = pgv(f, 'repeated.min_items');
      if (mi && f.repeated) this.fail(w, `PGV repeated.min_items=${mi}: missing`);
    }
    for (const o of T.oneofsArray) {
      if (o.options && o.options['(validate.required)'] && !oneofs[o.name]) this.fail(where, `PGV oneof "${o.name}" is required`);
    }
    return out;
  }

  field(f, val, where) {
    const R = f.resolvedType;
    if (R instanceof protobuf.Type) {
      const v = this.message(R, val, where);
      if (R.fullName === '.google.protobuf.Duration' && typeof v.seconds === 'number') {
        const s = v.seconds + v.nanos / 1e9;
        const lim = x => (x.seconds || 0) + (x.nanos || 0) / 1e9;
        const gt = pgv(f, 'duration.gt');
        const gte = pgv(f, 'duration.gte');
        if (gt && s <= lim(gt)) this.fail(where, 'PGV duration.gt violated');
        if (gte && s < lim(gte)) this.fail(where, 'PGV duration.gte violated');
      }
      if (WRAPPERS.has(R.fullName.slice(1)) && typeof v.value === 'number') this.bounds(f, v.value, where, R.fields.value.type);
      return v;
    }
    if (R instanceof protobuf.Enum) {
      if (typeof val === 'string') {
        if (!(val in R.values)) this.fail(where, `unknown enum value "${val}" of ${R.fullName.slice(1)}`);
      } else if (typeof val === 'number') {
        if (pgv(f, 'enum.defined_only') && !(val in R.valuesById)) this.fail(where, `PGV enum.defined_only: ${val}`);
      } else {
        this.fail(where, 'an enum is a name or a number');
      }
      return val;
    }
    return this.scalar(f, val, where);
  }

  bounds(f, n, where, type) {
    for (const op of ['gt', 'gte', 'lt', 'lte']) {
      const lim = pgv(f, `${type}.${op}`);
      if (lim === undefined) continue;
      const good = { gt: n > lim, gte: n >= lim, lt: n < lim, lte: n <= lim }[op];
      if (!good) this.fail(where, `PGV ${type}.${op}=${lim} violated by ${n}`);
    }
  }

  scalar(f, val, where) {
    const t = f.type;
    if (t === 'string') {
      if (typeof val !== 'string') this.fail(where, 'expected a string');
      const ml = pgv(f, 'string.min_len') || pgv(f, 'string.min_bytes');
      if (ml && String(val).length < ml) this.fail(where, `PGV string.min_len=${ml}`);
      return val;
    }
    if (t === 'bool') {
      if (typeof val !== 'boolean') this.fail(where, 'expected true or false');
      return val;
    }
    if (t === 'bytes') {
      if (typeof val !== 'string') this.fail(where, 'bytes are a base64 string');
      return Buffer.from(String(val), 'base64');
    }
    if (/64$/.test(t)) {
      if (!(typeof val === 'number' || (typeof val === 'string' && /^-?\d+$/.test(val)))) this.fail(where, `expected ${t}`);
      this.bounds(f, Number(val), where, t);
      return String(val);
    }
    const n = typeof val === 'string' ? Number(val) : val;
    if (typeof n !== 'number' || isNaN(n)) { this.fail(where, `expected ${t}`); return val; }
    if (t.startsWith('uint') && n < 0) this.fail(where, `negative ${t}`);
    if (t === 'uint32' && n > 4294967295) this.fail(where, 'uint32 overflow');
    if ((t === 'int32' || t === 'uint32') && !Number.isInteger(n)) this.fail(where, `${t} must be an integer`);
    this.bounds(f, n, where, t);
    return n;
  }
}

// validate returns {errors, bytes} for one object; typeName is used when the
// object has no "@type".
function validate(root, obj, typeName, label) {
  const c = new Checker(root);
  const withType = obj && typeof obj === 'object' && !obj['@type'] && typeName
    ? Object.assign({ '@type': `type.googleapis.com/${typeName}` }, obj) : obj;
  const any = c.any(withType, label);
  let stable = false;
  if (!c.errors.length) {
    const name = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    const T = root.lookupType(name);
    const back = T.toObject(T.decode(any.value), { longs: String, enums: String });
    stable = T.encode(T.fromObject(back)).finish().length === any.value.length;
  }
  return { errors: c.errors, bytes: any.value ? any.value.length : 0, stable };
}

function main(argv) {
  let typeName = null;
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--type') typeName = argv[++i];
    else files.push(argv[i]);
  }
  if (!files.length) {
    console.error('usage: xdsvalidate.js [--type full.message.Name] file.json ...');
    return 2;
  }
  const t0 = Date.now();
  const root = loadEnvoyRoot();
  console.log(`loaded ${root.loadedFiles} Envoy v3 proto files (${root.skippedFiles} skipped: unresolvable imports) in ${Date.now() - t0} ms, protobufjs ${require('protobufjs/package.json').version}`);
  let ok = true;
  for (const file of files) {
    const data = JSON.parse(fs.readFileSync(file, 'utf8'));
    (Array.isArray(data) ? data : [data]).forEach((obj, i) => {
      const label = `${path.basename(file)}[${i}]`;
      const r = validate(root, obj, typeName, label);
      const what = (obj['@type'] || typeName || '?').split('/').pop();
      if (r.errors.length) {
        ok = false;
        console.log(`FAIL ${label} ${what}`);
        for (const e of r.errors) console.log(`   - ${e}`);
      } else {
        console.log(`OK   ${label} ${what}: ${r.bytes} bytes, round trip ${r.stable ? 'stable' : 'differs'}`);
      }
    });
  }
  return ok ? 0 : 1;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
module.exports = { loadEnvoyRoot, validate };

"""Patch engines: RFC 6902 JSON Patch, RFC 7386 merge patch, strategic merge patch (the list
merge keys of the built-in kinds), and a basic server-side apply with field ownership.

Written for the emulator alone: it must not share code with the product.
"""

import json
import time

from status import ApiError


class PatchError(Exception):
    pass


def json_equal(a, b):
    """Deep equality that, unlike ==, tells true from 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


# ---------------- RFC 6902 ----------------

def _pointer(path):
    if path == "":
        return []
    if not isinstance(path, str) or not path.startswith("/"):
        raise PatchError('invalid JSON pointer "%s"' % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container, tok, path, allow_end=False):
    if tok == "-" and allow_end:
        return len(container)
    if not tok.isdigit() or (len(tok) > 1 and tok[0] == "0"):
        raise PatchError('invalid array index "%s" in "%s"' % (tok, path))
    i = int(tok)
    limit = len(container) if allow_end else len(container) - 1
    if i > limit:
        raise PatchError('array index %d out of bounds in "%s"' % (i, path))
    return i


def _parent(doc, toks, path, op):
    cur = doc
    for t in toks[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError('%s operation does not apply: doc is missing path: "%s": missing '
                                 'value' % (op, path))
            cur = cur[t]
        elif isinstance(cur, list):
            try:
                cur = cur[_index(cur, t, path)]
            except PatchError:
                raise PatchError('%s operation does not apply: doc is missing path: "%s": missing '
                                 'value' % (op, path))
        else:
            raise PatchError('%s operation does not apply: doc is missing path: "%s": missing '
                             'value' % (op, path))
    return cur


def _get(doc, path, op):
    toks = _pointer(path)
    if not toks:
        return doc
    par = _parent(doc, toks, path, op)
    last = toks[-1]
    if isinstance(par, dict) and last in par:
        return par[last]
    if isinstance(par, list):
        try:
            return par[_index(par, last, path)]
        except PatchError:
            pass
    raise PatchError('%s operation does not apply: doc is missing path: "%s": missing value'
                     % (op, path))


def _add(doc, path, value, op="add"):
    toks = _pointer(path)
    if not toks:
        return value
    par = _parent(doc, toks, path, op)
    last = toks[-1]
    if isinstance(par, dict):
        par[last] = value
    elif isinstance(par, list):
        par.insert(_index(par, last, path, allow_end=True), value)
    else:
        raise PatchError('%s operation does not apply: doc is missing path: "%s": missing value'
                         % (op, path))
    return doc


def _remove(doc, path, op="remove"):
    toks = _pointer(path)
    if not toks:
        raise PatchError("%s operation does not apply: cannot remove the whole document" % op)
    par = _parent(doc, toks, path, op)
    last = toks[-1]
    if isinstance(par, dict) and last in par:
        return par.pop(last)
    if isinstance(par, list):
        try:
            return par.pop(_index(par, last, path))
        except PatchError:
            pass
    raise PatchError('%s operation does not apply: doc is missing path: "%s": missing value'
                     % (op, path))


def json_patch(doc, ops):
    """Apply an RFC 6902 patch (list of operations) to doc (mutated); returns the result."""
    if not isinstance(ops, list):
        raise PatchError("json patch must be an array of operations")
    for o in ops:
        if not isinstance(o, dict) or "op" not in o or "path" not in o:
            raise PatchError("invalid json patch operation: %s" % json.dumps(o)[:200])
        op, path = o["op"], o["path"]
        if op in ("add", "replace", "test") and "value" not in o:
            raise PatchError('%s operation: missing value for "%s"' % (op, path))
        if op == "add":
            doc = _add(doc, path, json.loads(json.dumps(o["value"])))
        elif op == "remove":
            _remove(doc, path)
        elif op == "replace":
            _get(doc, path, "replace")
            if _pointer(path):
                _remove(doc, path, "replace")
            doc = _add(doc, path, json.loads(json.dumps(o["value"])), "replace")
        elif op in ("move", "copy"):
            frm = o.get("from")
            if frm is None:
                raise PatchError("%s operation: missing from" % op)
            if op == "move":
                if path.startswith(frm + "/"):
                    raise PatchError('move operation: "from" %s is a prefix of "path" %s'
                                     % (frm, path))
                val = _remove(doc, frm, "move")
            else:
                val = json.loads(json.dumps(_get(doc, frm, "copy")))
            doc = _add(doc, path, val, op)
        elif op == "test":
            if not json_equal(_get(doc, path, "test"), o["value"]):
                raise PatchError("testing value %s failed: test failed" % path)
        else:
            raise PatchError('unexpected kind of operation "%s"' % op)
    return doc


# ---------------- RFC 7386 ----------------

def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return json.loads(json.dumps(patch))
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


# ---------------- strategic merge patch ----------------

_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "hostAliases": "ip", "conditions": "type",
    "ownerReferences": "uid", "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name", "webhooks": "name", "subsets": None,
}
_PRIMITIVE_MERGE = {"finalizers"}


def _merge_key(field, items):
    if field == "ports":
        sample = [i for i in items if isinstance(i, dict)]
        if sample and all("containerPort" in i for i in sample):
            return "containerPort"
        if sample and all("port" in i for i in sample):
            return "port"
        return None
    return _MERGE_KEYS.get(field)


def strategic_merge(target, patch):
    """Strategic merge patch for built-in kinds (mutates and returns target)."""
    if not isinstance(patch, dict):
        return json.loads(json.dumps(patch))
    if not isinstance(target, dict):
        target = {}
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            if isinstance(target.get(f), list):
                target[f] = [x for x in target[f] if x not in (v or [])]
            continue
        if v is None:
            target.pop(k, None)
        elif isinstance(v, dict):
            r = strategic_merge(target.get(k), v)
            if r is None:
                target.pop(k, None)
            else:
                target[k] = r
        elif isinstance(v, list):
            target[k] = _merge_list(k, target.get(k), v)
        else:
            target[k] = v
    if retain is not None:
        for k in list(target):
            if k not in retain:
                del target[k]
    return target


def _merge_list(field, orig, patch):
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [i for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    if not isinstance(orig, list):
        orig = []
    if field in _PRIMITIVE_MERGE:
        out = list(orig)
        for i in patch:
            if i not in out:
                out.append(i)
        return out
    key = _merge_key(field, orig + patch)
    if not key:
        return [i for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    out = [json.loads(json.dumps(i)) for i in orig]
    for item in patch:
        if not isinstance(item, dict):
            continue
        kv = item.get(key)
        idx = next((n for n, o in enumerate(out) if isinstance(o, dict) and o.get(key) == kv),
                   None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strategic_merge({}, item))
        else:
            out[idx] = strategic_merge(out[idx], item)
    return out


# ---------------- server-side apply (basic) ----------------

_SKIP_TOP = {"apiVersion", "kind"}
_SKIP_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
              "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds"}


def field_set(cfg):
    """Leaf paths of an applied configuration; keyed list items become ('k', key-json)."""
    out = set()

    def walk(node, prefix, field):
        if isinstance(node, dict) and node:
            for k, v in node.items():
                if not prefix and k in _SKIP_TOP:
                    continue
                if prefix == ("metadata",) and k in _SKIP_META:
                    continue
                walk(v, prefix + (k,), k)
        elif isinstance(node, list) and node and _merge_key(field, node):
            mk = _merge_key(field, node)
            for item in node:
                if isinstance(item, dict) and mk in item:
                    kp = prefix + (("k", json.dumps({mk: item[mk]}, sort_keys=True)),)
                    out.add(kp)
                    walk(item, kp, None)
        else:
            out.add(prefix)
    walk(cfg, (), None)
    return out


def _fields_v1(paths):
    tree = {}
    for p in paths:
        cur = tree
        for c in p:
            key = "k:" + c[1] if isinstance(c, tuple) else "f:" + c
            cur = cur.setdefault(key, {})
        cur.setdefault(".", {}) if any(len(q) > len(p) and q[:len(p)] == p for q in paths) else None
    return tree


def _paths_from_v1(tree, prefix=()):
    out = set()
    for k, v in (tree or {}).items():
        if k == ".":
            continue
        c = ("k", k[2:]) if k.startswith("k:") else k[2:]
        p = prefix + (c,)
        if not v or "." in v:
            out.add(p)
        out |= _paths_from_v1(v, p)
    return out


def _value_at(obj, path):
    cur = obj
    for c in path:
        if isinstance(c, tuple):
            want = json.loads(c[1])
            (k, kv), = want.items()
            if not isinstance(cur, list):
                return None, False
            cur = next((i for i in cur if isinstance(i, dict) and i.get(k) == kv), None)
            if cur is None:
                return None, False
        else:
            if not isinstance(cur, dict) or c not in cur:
                return None, False
            cur = cur[c]
    return cur, True


def _delete_at(obj, path):
    cur = obj
    for c in path[:-1]:
        cur, ok = _value_at(cur, (c,))
        if not ok:
            return
    last = path[-1]
    if isinstance(last, tuple) and isinstance(cur, list):
        (k, kv), = json.loads(last[1]).items()
        cur[:] = [i for i in cur if not (isinstance(i, dict) and i.get(k) == kv)]
    elif isinstance(cur, dict):
        cur.pop(last, None)


def _dotted(path):
    s = ""
    for c in path:
        s += "[%s]" % c[1].strip("{}").replace('"', "").replace(":", "=") if isinstance(c, tuple) \
            else "." + c
    return s


def server_side_apply(live, cfg, manager, force, api_version):
    """Apply cfg as manager onto live (mutated). Raises ApiError 409 on ownership conflicts."""
    mfs = (live.get("metadata") or {}).get("managedFields") or []
    others = {}
    mine_old = set()
    for e in mfs:
        if e.get("operation") != "Apply":
            continue
        s = _paths_from_v1(e.get("fieldsV1"))
        if e.get("manager") == manager:
            mine_old |= s
        else:
            others[e.get("manager")] = s
    new = field_set(cfg)
    conflicts = []
    for m, s in others.items():
        for p in sorted(new & s, key=str):
            have, ok = _value_at(live, p)
            want, _ = _value_at(cfg, p)
            if ok and not json_equal(have, want) and not isinstance(p[-1], tuple):
                conflicts.append((m, p))
    if conflicts and not force:
        n = len(conflicts)
        msg = "Apply failed with %d conflict%s: " % (n, "" if n == 1 else "s")
        msg += "; ".join('conflict with "%s": %s' % (m, _dotted(p)) for m, p in conflicts)
        raise ApiError(409, "Conflict", msg, {"causes": [
            {"reason": "FieldManagerConflict", "message": 'conflict with "%s"' % m,
             "field": _dotted(p)} for m, p in conflicts]})
    if force:
        for m, p in conflicts:
            others[m].discard(p)
    owned_by_others = set().union(*others.values()) if others else set()
    for p in sorted(mine_old - new - owned_by_others, key=len, reverse=True):
        _delete_at(live, p)
    cfg_body = {k: v for k, v in cfg.items() if k not in _SKIP_TOP}
    strategic_merge(live, json.loads(json.dumps(cfg_body)))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    entries = []
    for e in mfs:
        if e.get("manager") == manager and e.get("operation") == "Apply":
            continue
        if e.get("operation") == "Apply" and e.get("manager") in others:
            e = dict(e, fieldsV1=_fields_v1(others[e["manager"]]))
        entries.append(e)
    entries.append({"manager": manager, "operation": "Apply", "apiVersion": api_version,
                    "time": now, "fieldsType": "FieldsV1", "fieldsV1": _fields_v1(new)})
    live.setdefault("metadata", {})["managedFields"] = entries
    return live

"""Label selectors (query-string syntax and LabelSelector objects) and field selectors."""

import re

from status import bad_request

_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                  r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_VAL = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _split_top(s):
    """Split on commas that are not inside parentheses."""
    out, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _check_key(k, whole):
    if not _KEY.match(k):
        raise bad_request("unable to parse requirement: invalid label key \"%s\" in selector \"%s\""
                          % (k, whole))


def _check_val(v, whole):
    if not _VAL.match(v) or len(v) > 63:
        raise bad_request("unable to parse requirement: invalid label value: \"%s\" in selector "
                          "\"%s\"" % (v, whole))


_SET_RE = re.compile(r"^\s*([^\s!=()]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")


def parse_label_selector(s):
    """Parse 'a=b,c!=d,e in (x,y),!f' into a list of (key, op, values). Raises 400."""
    reqs = []
    if s is None or not s.strip():
        return reqs
    for part in _split_top(s):
        p = part.strip()
        if not p:
            raise bad_request("unable to parse requirement: found '', expected: identifier")
        m = _SET_RE.match(p)
        if m:
            key, op, vals = m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]
            vals = [v for v in vals if v != ""] if vals != [""] else []
            _check_key(key, s)
            for v in vals:
                _check_val(v, s)
            reqs.append((key, op, vals))
            continue
        for op_s, op in (("!=", "!="), ("==", "="), ("=", "=")):
            if op_s in p:
                key, val = p.split(op_s, 1)
                key, val = key.strip(), val.strip()
                _check_key(key, s)
                _check_val(val, s)
                reqs.append((key, op, [val]))
                break
        else:
            if p.startswith("!"):
                key = p[1:].strip()
                _check_key(key, s)
                reqs.append((key, "!", []))
            else:
                _check_key(p, s)
                reqs.append((p, "exists", []))
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        have = key in labels
        v = labels.get(key)
        if op == "=":
            if not have or v != vals[0]:
                return False
        elif op == "!=":
            if have and v == vals[0]:
                return False
        elif op == "in":
            if not have or v not in vals:
                return False
        elif op == "notin":
            if have and v in vals:
                return False
        elif op == "exists":
            if not have:
                return False
        elif op == "!":
            if have:
                return False
    return True


def label_selector_obj_to_reqs(sel):
    """metav1.LabelSelector -> requirement list; None selector -> [] (matches all).

    Raises ValueError on an invalid selector (unknown operator, missing values)."""
    if sel is None:
        return []
    reqs = []
    for k, v in sorted((sel.get("matchLabels") or {}).items()):
        reqs.append((k, "=", [str(v)]))
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        vals = e.get("values") or []
        key = e.get("key", "")
        if op == "In" or op == "NotIn":
            if not vals:
                raise ValueError("values: Required value: must be specified when `operator` is "
                                 "'In' or 'NotIn'")
            reqs.append((key, "in" if op == "In" else "notin", list(vals)))
        elif op == "Exists" or op == "DoesNotExist":
            if vals:
                raise ValueError("values: Forbidden: may not be specified when `operator` is "
                                 "'Exists' or 'DoesNotExist'")
            reqs.append((key, "exists" if op == "Exists" else "!", []))
        else:
            raise ValueError('operator: Invalid value: "%s": not a valid selector operator' % op)
    return reqs


def selector_obj_matches(sel, labels):
    return labels_match(label_selector_obj_to_reqs(sel), labels)


# ---- field selectors ----

_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_KIND_FIELDS = {
    "pods": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
    "secrets": ("type",),
    "namespaces": ("status.phase",),
    "nodes": ("spec.unschedulable",),
    "events": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
               "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
               "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"),
    "replicasets": ("status.replicas",),
    "jobs": ("status.successful",),
}


def _field_value(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_field_selector(s, resource):
    """Parse 'metadata.name=x,status.phase!=Running' for a resource; 400 on unknown fields."""
    reqs = []
    if s is None or not s.strip():
        return reqs
    allowed = _COMMON_FIELDS + _KIND_FIELDS.get(resource, ())
    for part in s.split(","):
        p = part.strip()
        if not p:
            continue
        for op_s, op in (("!=", "!="), ("==", "="), ("=", "=")):
            if op_s in p:
                key, val = p.split(op_s, 1)
                key = key.strip()
                break
        else:
            raise bad_request("invalid selector: '%s'; can't understand '%s'" % (s, p))
        if key not in allowed:
            raise bad_request('field label not supported: %s' % key)
        reqs.append((key, op, val.strip()))
    return reqs


def fields_match(reqs, obj):
    for key, op, val in reqs:
        have = _field_value(obj, key)
        if (have == val) != (op == "="):
            return False
    return True

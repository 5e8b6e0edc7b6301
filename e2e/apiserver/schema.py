"""Structural-schema handling of custom resources: pruning of unknown fields (or an error
with fieldValidation=Strict, a warning with Warn), defaults, and validation of type,
required, enum, bounds and patterns (the subset of OpenAPI v3 that CRDs use most)."""

import re

from status import ApiError

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def _type_ok(t, v):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    py = _TYPES.get(t)
    return py is None or isinstance(v, py)


def _tname(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


class _Walk:
    def __init__(self):
        self.causes = []
        self.unknown = []

    def walk(self, s, v, path):
        if not isinstance(s, dict):
            return v
        if v is None:
            if not s.get("nullable"):
                self.causes.append((path, "FieldValueTypeInvalid",
                                    'Invalid value: "null": %s in body must be of type %s: "null"'
                                    % (path, s.get("type", "object"))))
            return v
        if s.get("x-kubernetes-int-or-string"):
            if not isinstance(v, (int, str)) or isinstance(v, bool):
                self.causes.append((path, "FieldValueTypeInvalid", "Invalid value: \"%s\": %s "
                                    "in body must be of type int-or-string: \"%s\""
                                    % (_tname(v), path, _tname(v))))
            return v
        t = s.get("type")
        if t and not _type_ok(t, v):
            self.causes.append((path, "FieldValueTypeInvalid",
                                'Invalid value: "%s": %s in body must be of type %s: "%s"'
                                % (_tname(v), path, t, _tname(v))))
            return v
        if "enum" in s and v not in s["enum"]:
            self.causes.append((path, "FieldValueNotSupported", "Unsupported value: %s: "
                                "supported values: %s" % (_q(v), ", ".join(_q(e) for e in
                                                                          s["enum"]))))
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if "minimum" in s and v < s["minimum"]:
                self.causes.append((path, "FieldValueInvalid", "Invalid value: %s: %s in body "
                                    "should be greater than or equal to %s" % (v, path,
                                                                             s["minimum"])))
            if "maximum" in s and v > s["maximum"]:
                self.causes.append((path, "FieldValueInvalid", "Invalid value: %s: %s in body "
                                    "should be less than or equal to %s" % (v, path,
                                                                          s["maximum"])))
        if isinstance(v, str):
            if "pattern" in s and not re.search(s["pattern"], v):
                self.causes.append((path, "FieldValueInvalid", 'Invalid value: "%s": %s in body '
                                    "should match '%s'" % (v, path, s["pattern"])))
            if "maxLength" in s and len(v) > s["maxLength"]:
                self.causes.append((path, "FieldValueTooLong", "Too long: may not be more than "
                                    "%d bytes" % s["maxLength"]))
        if isinstance(v, list):
            if "maxItems" in s and len(v) > s["maxItems"]:
                self.causes.append((path, "FieldValueTooMany", "Too many: %d: must have at most "
                                    "%d items" % (len(v), s["maxItems"])))
            if "items" in s:
                return [self.walk(s["items"], x, "%s[%d]" % (path, i)) for i, x in enumerate(v)]
            return v
        if isinstance(v, dict):
            for r in s.get("required") or []:
                if r not in v:
                    self.causes.append(("%s.%s" % (path, r), "FieldValueRequired",
                                        "Required value"))
            props = s.get("properties")
            addl = s.get("additionalProperties")
            preserve = s.get("x-kubernetes-preserve-unknown-fields")
            out = {}
            for k, sub in (props or {}).items():
                if k not in v and isinstance(sub, dict) and "default" in sub:
                    v[k] = sub["default"]
            for k, x in v.items():
                p = "%s.%s" % (path, k)
                if props is not None and k in props:
                    out[k] = self.walk(props[k], x, p)
                elif isinstance(addl, dict):
                    out[k] = self.walk(addl, x, p)
                elif preserve or addl is True or (props is None and addl is None and
                                                   not t):
                    out[k] = x
                else:
                    self.unknown.append(p)
            return out
        return v


def _q(v):
    return '"%s"' % v if isinstance(v, str) else str(v)


def apply(ki, obj, opts, version=None):
    """Prune, default and validate a custom resource against its version's schema."""
    schemas = getattr(ki, "schemas", None) or {}
    s = schemas.get(version or ki.version)
    if not s:
        return obj
    w = _Walk()
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    top = dict(s)
    top_props = dict(top.get("properties") or {})
    for k in ("apiVersion", "kind", "metadata"):
        top_props.pop(k, None)
    top["properties"] = top_props
    out = w.walk(top, body, "")
    causes = [(c[0].lstrip("."), c[1], c[2].replace(" .", " ")) for c in w.causes]
    name = obj["metadata"].get("name") or obj["metadata"].get("generateName", "")
    if w.unknown:
        fv = (opts.field_validation or "").lower()
        names = ", ".join('unknown field "%s"' % u.lstrip(".") for u in w.unknown)
        if fv == "strict":
            raise ApiError(400, "BadRequest", ".%s" % names.replace(", ", ", ."), {
                "causes": [{"reason": "FieldValueInvalid", "message": 'unknown field "%s"'
                            % u.lstrip("."), "field": u.lstrip(".")} for u in w.unknown]})
        if fv == "warn":
            opts.warnings.extend('unknown field "%s"' % u.lstrip(".") for u in w.unknown)
    if causes:
        from status import invalid
        raise invalid(_GK(ki), name, causes)
    for k in list(obj):
        if k not in ("apiVersion", "kind", "metadata"):
            del obj[k]
    obj.update(out)
    return obj


class _GK:
    """Kind info as named in Invalid messages of custom resources: Widget.example.com."""

    def __init__(self, ki):
        self.kind = "%s.%s" % (ki.kind, ki.group)
        self.group = ki.group
        self.resource = ki.resource

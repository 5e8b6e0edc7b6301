"""Kubernetes Status error objects (metav1.Status) and the ApiError exception.

Every failure the emulator answers is a Status with a real reason and code; the
shapes follow the reference (kubernetes-api.md section 2.10).
"""


class ApiError(Exception):
    """An error answered to the client as a Status object."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        st = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            st["details"] = self.details
        return st


def _details(name, kinfo_or_kind, group=None):
    d = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    if kinfo_or_kind:
        d["kind"] = kinfo_or_kind
    return d


def qualified(ki):
    """'deployments.apps' style resource name used in messages."""
    return ki.resource if not ki.group else "%s.%s" % (ki.resource, ki.group)


def not_found(ki, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (qualified(ki), name),
                    _details(name, ki.resource, ki.group))


def ns_not_found(name):
    return ApiError(404, "NotFound", 'namespaces "%s" not found' % name,
                    _details(name, "namespaces"))


def no_route(msg="the server could not find the requested resource"):
    return ApiError(404, "NotFound", msg, {})


def already_exists(ki, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (qualified(ki), name),
                    _details(name, ki.resource, ki.group))


def conflict(ki, name, why="the object has been modified; please apply your changes to the latest "
             "version and try again"):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s' %
                    (qualified(ki), name, why), _details(name, ki.resource, ki.group))


def invalid(ki, name, causes):
    """causes: list of (field, reason, message) tuples."""
    parts = ["%s: %s" % (f, m) for f, _, m in causes]
    msg = '%s "%s" is invalid: ' % (ki.kind, name or "")
    msg += parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    det = _details(name, ki.kind, ki.group)
    det["causes"] = [{"reason": r, "message": m, "field": f} for f, r, m in causes]
    return ApiError(422, "Invalid", msg, det)


def bad_request(msg):
    return ApiError(400, "BadRequest", msg)


def forbidden(msg, ki=None, name=None, cause=None):
    det = _details(name, ki.resource, ki.group) if ki else {}
    if cause:
        det["causes"] = [{"reason": cause, "message": msg}]
    return ApiError(403, "Forbidden", msg, det)


def method_not_allowed(msg="the server does not allow this method on the requested resource"):
    return ApiError(405, "MethodNotAllowed", msg, {})


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def gone(msg):
    return ApiError(410, "Expired", msg)


def unsupported_media(msg):
    return ApiError(415, "UnsupportedMediaType", msg)


def not_acceptable(msg="only the following media types are accepted: application/json, "
                   "application/yaml"):
    return ApiError(406, "NotAcceptable", msg)


def too_many(retry_after):
    return ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                    {"retryAfterSeconds": int(retry_after)},
                    {"Retry-After": str(int(retry_after))})


def internal(msg):
    return ApiError(500, "InternalError", "Internal error occurred: %s" % msg,
                    {"causes": [{"message": msg}]})


def timeout_rv_too_large():
    return ApiError(504, "Timeout", "Too large resource version",
                    {"causes": [{"reason": "ResourceVersionTooLarge",
                                 "message": "Too large resource version"}],
                     "retryAfterSeconds": 1})


def success_status(ki, name, uid):
    d = _details(name, ki.resource, ki.group)
    if uid:
        d["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": d}

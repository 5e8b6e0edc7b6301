#!/usr/bin/env bash
# t_apiserver_api: API-level behaviour of the API server emulator with a Python HTTPS client
# (e2e/apiserver/apitest.py): auth, discovery, create/update/patch errors (409, 422, 404, 415),
# status subresource, selectors, pagination, watch (bookmarks only when asked, 410 in both
# modes, sendInitialEvents 400, selector transitions), finalizers, garbage collection,
# namespace termination, tokens, fault injection (429 + Retry-After, 500, delay, watch drop,
# restart) and mutating admission through a real HTTPS test webhook with its own CA.
set -u
: "${MZ_WORK:?}" "${MZ_ROOT:?}"
chmod +x "$MZ_ROOT/e2e/apiserver/apitest.py" 2>/dev/null || true
exec /usr/bin/python3 "$MZ_ROOT/e2e/apiserver/apitest.py" "$MZ_WORK" "$MZ_ROOT"

"""Object store: one global resourceVersion counter, an event history for watches, watchers.

Stored objects are treated as immutable: every write stores a fresh dict, so readers can
serialise without copying and paginated lists can keep a snapshot of references.
"""

import collections
import json
import queue
import threading
import time

from labelsel import fields_match, labels_match
from status import gone


def clone(obj):
    return json.loads(json.dumps(obj))


class Event:
    __slots__ = ("rv", "type", "gr", "ns", "name", "obj", "old")

    def __init__(self, rv, typ, gr, ns, name, obj, old):
        self.rv, self.type, self.gr, self.ns, self.name = rv, typ, gr, ns, name
        self.obj, self.old = obj, old


class Watcher:
    """One watch stream: a queue of (type, object) items or control strings."""

    def __init__(self, gr, ns, lreqs, freqs):
        self.gr, self.ns, self.lreqs, self.freqs = gr, ns, lreqs, freqs
        self.q = queue.SimpleQueue()
        self.frozen_until = 0.0

    def matches(self, obj):
        if obj is None:
            return False
        md = obj.get("metadata") or {}
        return labels_match(self.lreqs, md.get("labels")) and fields_match(self.freqs, obj)

    def offer(self, ev):
        """Translate a store event into what this watcher sees (selector transitions)."""
        if ev.gr != self.gr or (self.ns and ev.ns != self.ns):
            return
        if ev.type == "ADDED":
            if self.matches(ev.obj):
                self.q.put(("ADDED", ev.obj))
        elif ev.type == "DELETED":
            if self.matches(ev.obj):
                self.q.put(("DELETED", ev.obj))
        else:
            now, before = self.matches(ev.obj), self.matches(ev.old)
            if now and before:
                self.q.put(("MODIFIED", ev.obj))
            elif now:
                self.q.put(("ADDED", ev.obj))
            elif before:
                # The object left the selection: DELETED with the old state at the new RV.
                old = dict(ev.old)
                old["metadata"] = dict(old["metadata"], resourceVersion=str(ev.rv))
                self.q.put(("DELETED", old))


class Store:
    def __init__(self, history_max=50000, continue_ttl=300.0):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 100
        self.objs = {}  # gr -> {(ns, name): obj}
        self.history = collections.deque()
        self.history_max = history_max
        self.compacted = self.rv  # watches from an RV older than this get 410
        self.watchers = set()
        self.listeners = []  # called with each Event under the lock; must not block
        self.owner_index = {}  # owner uid -> set((gr, ns, name))
        self.uids = {}  # uid -> (gr, ns, name)
        self.snapshots = {}  # continue id -> (expiry, rv, [objs])
        self.continue_ttl = continue_ttl
        self.snap_seq = 0

    # ---- reads ----

    def get(self, gr, ns, name):
        with self.lock:
            return self.objs.get(gr, {}).get((ns, name))

    def by_uid(self, uid):
        with self.lock:
            k = self.uids.get(uid)
            return self.objs.get(k[0], {}).get((k[1], k[2])) if k else None

    def dependents(self, uid):
        with self.lock:
            out = []
            for gr, ns, name in self.owner_index.get(uid, ()):
                o = self.objs.get(gr, {}).get((ns, name))
                if o is not None:
                    out.append((gr, o))
            return out

    def list(self, gr, ns=None):
        """(rv, [objects sorted by namespace/name])."""
        with self.lock:
            table = self.objs.get(gr, {})
            keys = sorted(k for k in table if ns is None or k[0] == ns)
            return self.rv, [table[k] for k in keys]

    def list_at(self, gr, ns, rv):
        """State of a collection at an older RV, rebuilt from the history (410 if compacted)."""
        with self.lock:
            if rv < self.compacted:
                raise gone("too old resource version: %d (%d)" % (rv, self.compacted))
            table = dict(self.objs.get(gr, {}))
            for ev in reversed(self.history):
                if ev.rv <= rv:
                    break
                if ev.gr != gr:
                    continue
                key = (ev.ns, ev.name)
                if ev.type == "ADDED":
                    table.pop(key, None)
                else:
                    table[key] = ev.old
            keys = sorted(k for k in table if ns is None or k[0] == ns)
            return [table[k] for k in keys]

    def all_items(self):
        with self.lock:
            return [(gr, o) for gr, t in self.objs.items() for o in t.values()]

    # ---- writes ----

    def _bump(self):
        self.rv += 1
        return self.rv

    def _index(self, gr, ns, name, obj, add):
        md = obj.get("metadata") or {}
        uid = md.get("uid")
        key = (gr, ns, name)
        if uid:
            if add:
                self.uids[uid] = key
            elif self.uids.get(uid) == key:
                del self.uids[uid]
        for ref in md.get("ownerReferences") or []:
            u = ref.get("uid")
            if not u:
                continue
            s = self.owner_index.setdefault(u, set())
            if add:
                s.add(key)
            else:
                s.discard(key)
                if not s:
                    del self.owner_index[u]

    def _emit(self, ev):
        self.history.append(ev)
        while len(self.history) > self.history_max:
            self.compacted = self.history.popleft().rv
        for w in list(self.watchers):
            w.offer(ev)
        for fn in self.listeners:
            fn(ev)
        self.cond.notify_all()

    def commit(self, gr, obj, old):
        """Store obj (a private dict) replacing old (None on create); returns obj with its RV."""
        md = obj["metadata"]
        ns, name = md.get("namespace", ""), md["name"]
        with self.lock:
            rv = self._bump()
            md["resourceVersion"] = str(rv)
            table = self.objs.setdefault(gr, {})
            if old is not None:
                self._index(gr, ns, name, old, False)
            table[(ns, name)] = obj
            self._index(gr, ns, name, obj, True)
            self._emit(Event(rv, "MODIFIED" if old is not None else "ADDED", gr, ns, name, obj,
                             old))
            return obj

    def remove(self, gr, old):
        """Delete old from the store; returns the final state carrying the deletion RV."""
        md = old["metadata"]
        ns, name = md.get("namespace", ""), md["name"]
        with self.lock:
            table = self.objs.get(gr, {})
            if table.get((ns, name)) is not old:
                return None
            rv = self._bump()
            del table[(ns, name)]
            self._index(gr, ns, name, old, False)
            final = dict(old)
            final["metadata"] = dict(md, resourceVersion=str(rv))
            self._emit(Event(rv, "DELETED", gr, ns, name, final, old))
            return final

    # ---- watch ----

    def wait_rv(self, rv, timeout=3.0):
        """Wait until the store reaches rv; False if it did not in time."""
        end = time.monotonic() + timeout
        with self.lock:
            while self.rv < rv:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def watch(self, gr, ns, lreqs, freqs, rv):
        """Register a watcher. rv None: initial ADDED for current matches; else replay after rv.

        Returns (watcher, error) where error is a 410 ApiError when rv is compacted."""
        w = Watcher(gr, ns, lreqs, freqs)
        with self.lock:
            if rv is None:
                table = self.objs.get(gr, {})
                for k in sorted(table):
                    o = table[k]
                    if (not ns or k[0] == ns) and w.matches(o):
                        w.q.put(("ADDED", o))
            else:
                if rv < self.compacted:
                    return None, gone("too old resource version: %d (%d)" % (rv, self.compacted))
                for ev in self.history:
                    if ev.rv > rv:
                        w.offer(ev)
            self.watchers.add(w)
        return w, None

    def unwatch(self, w):
        with self.lock:
            self.watchers.discard(w)

    def drop_watches(self, how="eof"):
        with self.lock:
            ws = list(self.watchers)
        for w in ws:
            w.q.put(how)
        return len(ws)

    def freeze_watches(self, seconds):
        until = time.monotonic() + seconds
        with self.lock:
            for w in self.watchers:
                w.frozen_until = until
            return len(self.watchers)

    def compact(self):
        with self.lock:
            self.history.clear()
            self.compacted = self.rv
            self.snapshots.clear()
            return self.rv

    # ---- pagination snapshots ----

    def save_snapshot(self, rv, items):
        with self.lock:
            now = time.monotonic()
            for k in [k for k, v in self.snapshots.items() if v[0] < now]:
                del self.snapshots[k]
            while len(self.snapshots) > 200:
                del self.snapshots[next(iter(self.snapshots))]
            self.snap_seq += 1
            self.snapshots[self.snap_seq] = (now + self.continue_ttl, rv, items)
            return self.snap_seq

    def load_snapshot(self, sid):
        with self.lock:
            s = self.snapshots.get(sid)
            if s is None or s[0] < time.monotonic():
                return None
            return s

    # ---- persistence / wipe ----

    def dump(self):
        with self.lock:
            return {"resourceVersion": self.rv,
                    "objects": [[gr[0], gr[1], o] for gr, t in self.objs.items()
                                for o in t.values()]}

    def load(self, data):
        with self.lock:
            self.rv = max(self.rv, int(data.get("resourceVersion", 0)))
            for g, r, o in data.get("objects", []):
                md = o["metadata"]
                self.objs.setdefault((g, r), {})[(md.get("namespace", ""), md["name"])] = o
                self._index((g, r), md.get("namespace", ""), md["name"], o, True)
            self.compacted = self.rv

    def wipe(self):
        """Lose all objects (as after an etcd loss); the RV counter keeps increasing."""
        with self.lock:
            self.objs.clear()
            self.owner_index.clear()
            self.uids.clear()
            self.history.clear()
            self.snapshots.clear()
            self.rv += 1
            self.compacted = self.rv

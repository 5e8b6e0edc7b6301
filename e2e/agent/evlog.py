#!/usr/bin/python3
"""evlog.py: queries on the stand-in Envoy's event log (JSON lines).

  evlog.py LOG pids                      pids of every process that started
  evlog.py LOG count EVENT [k=v ...]     how many EVENT lines match
  evlog.py LOG field EVENT FIELD [k=v]   FIELD of the last matching EVENT
  evlog.py LOG times EVENT [k=v ...]     times (epoch seconds) of the matches
  evlog.py LOG argv [epoch]              argv of the last start (of epoch)

A k=v filter compares the field's JSON text or string value.
"""
import json
import sys


def load(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


def match(rec, event, filters):
    if rec.get("event") != event:
        return False
    for flt in filters:
        k, v = flt.split("=", 1)
        val = rec.get(k)
        if not (str(val) == v or json.dumps(val) == v):
            return False
    return True


def main(argv):
    recs = load(argv[1])
    cmd = argv[2]
    if cmd == "pids":
        print(" ".join(sorted({str(r["pid"]) for r in recs if r.get("event") == "start"})))
    elif cmd == "count":
        print(sum(1 for r in recs if match(r, argv[3], argv[4:])))
    elif cmd == "field":
        hits = [r for r in recs if match(r, argv[3], argv[5:])]
        if not hits:
            return 1
        print(json.dumps(hits[-1].get(argv[4])) if not isinstance(hits[-1].get(argv[4]), str)
              else hits[-1][argv[4]])
    elif cmd == "times":
        print(" ".join("%.3f" % r["t"] for r in recs if match(r, argv[3], argv[4:])))
    elif cmd == "argv":
        hits = [r for r in recs if r.get("event") == "start"
                and (len(argv) < 4 or str(r.get("epoch")) == argv[3])]
        if not hits:
            return 1
        print(" ".join(hits[-1]["argv"]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

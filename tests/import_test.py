#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""import_test.py - `logkeep import-sqlite`, end to end.

Goal: a predecessor's mesh_data.db (the schema of shared/seeds/000) moves
into a data directory whole: every row read back equals the row put in;
expired path-cache rows and the broken policy are counted, not imported;
the database is never changed; a second run ends in the same state and
writes nothing it need not; a file that is not that database is refused
naming what is missing; hostile rows are each reported with table and
rowid and never crash the tool.

Method: Python's sqlite3 module builds the databases under one temporary
directory (removed at exit); the real binary runs as a process on them.
What DIR holds is read back with mesh_readback (tests/mesh_readback.c,
linked against the mesh layer) for every row, and with the tool's own
node/policy/cache commands for a few.  Output is TAP: `ok N - name` or
`not ok N - name` with what differed; the script exits 1 if a check
failed, 77 (skip) when Python has no sqlite3 module or the tool was built
without SQLite.

Usage: import_test.py path/to/logkeep path/to/mesh_readback
"""
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import sqlite3
except ImportError:
    print("1..0 # SKIP python3 has no sqlite3 module")
    sys.exit(77)

LK, READBACK = sys.argv[1], sys.argv[2]
# A cross build's binaries run under its exe_wrapper (qemu-user,
# .ci/cross/), which meson test passes in MESON_EXE_WRAPPER.
WRAP = shlex.split(os.environ.get("MESON_EXE_WRAPPER", ""))

# The predecessors' schema, as seeds/000 prints it.
SCHEMA = """
CREATE TABLE nodes (
    node_id TEXT PRIMARY KEY,
    interfaces TEXT NOT NULL,
    protocols TEXT NOT NULL,
    started INTEGER DEFAULT 0,
    routes_discovered INTEGER DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX idx_nodes_started ON nodes(started);
CREATE TABLE policies (
    policy_id TEXT PRIMARY KEY,
    yaml_content TEXT NOT NULL,
    rules_count INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE path_cache (
    cache_key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    k INTEGER NOT NULL,
    bundle_json TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX idx_cache_expires ON path_cache(expires_at);
CREATE INDEX idx_cache_source_dest ON path_cache(source, destination);
"""

NODES, POLICIES, CACHE_LIVE, CACHE_EXPIRED = 5000, 1000, 3000, 1000
BROKEN_POLICY = "policy-α-0500"
# libyaml stops at line 3: the flow sequence opened on line 2 never closes.
BROKEN_YAML = "rules:\n  - match: [a, b\n  - action: deny\n"

T = tempfile.mkdtemp(prefix="logkeep-import.")
n = failed = 0


def ok(name, cond, detail=""):
    global n, failed
    n += 1
    if cond:
        print(f"ok {n} - {name}")
    else:
        failed += 1
        print(f"not ok {n} - {name}")
        for line in str(detail).splitlines()[:20]:
            print(f"#   {line}")


def run(*args, stdin=None):
    p = subprocess.run([*WRAP, LK, *args], input=stdin, capture_output=True,
                       timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


def parse_json(text):
    """The JSON object text holds, or {} if it holds none."""
    try:
        return json.loads(text)
    except ValueError:
        return {}


def path(name):
    return os.path.join(T, name)


# ---------------------------------------------------------------------------
# The fixture: 10,000 rows
# ---------------------------------------------------------------------------

def node_id(i):
    if i % 3 == 1:
        return f"nœud-α-{i:02d}"     # nœud-α-01, nœud-α-04, ...
    if i % 3 == 2:
        return f"узел-🛰-{i}"          # 4-byte UTF-8: surrogate pairs in JSON
    return f"node-{i:05d}"


def policy_doc(i, rules):
    items = "".join(f"  - match: {{src: \"nœud-α-{j:02d}\"}}\n"
                    f"    action: {'allow' if j % 2 else 'deny'}\n"
                    for j in range(rules))
    return f"# politique {i}: règles\nname: policy-{i}\nrules:\n{items}" \
        if rules else f"name: policy-{i}\nrules: []\n"


def make_fixture(db, now):
    rng = random.Random(10)
    names = ["eth0", "eth1", "wlan0", "wlan-é", "mesh0", "bat0", "ñ-🛰"]
    protos = ["batman-adv", "olsr", "babel", "yggdrasil", "cjdns"]
    want = {"nodes": {}, "policies": {}, "cache": {}, "expired": []}
    c = sqlite3.connect(db)
    c.execute("PRAGMA journal_mode=WAL")  # as the predecessors ran it
    c.executescript(SCHEMA)
    for i in range(NODES):
        ifs = rng.sample(names, rng.randint(0, 4))
        prs = rng.sample(protos, rng.randint(0, 3))
        started, routes = i % 2, rng.randint(0, 10 ** 6)
        # the predecessors wrote json.dumps: ASCII with \u escapes; a few
        # rows carry raw UTF-8, which is JSON too
        raw = i % 10 == 0
        c.execute("INSERT INTO nodes VALUES (?,?,?,?,?,?,?)",
                  (node_id(i), json.dumps(ifs, ensure_ascii=not raw),
                   json.dumps(prs, ensure_ascii=not raw), started, routes,
                   now - 86400 + i, now - i))
        want["nodes"][node_id(i)] = (ifs, prs, started, routes)
    for i in range(POLICIES):
        pid = f"policy-α-{i:04d}"
        rules = i % 7
        doc = BROKEN_YAML if pid == BROKEN_POLICY else policy_doc(i, rules)
        # rules_count is never trusted: a wrong one in every fifth row
        c.execute("INSERT INTO policies VALUES (?,?,?,?,?)",
                  (pid, doc, rules + (i % 5 == 0) * 3, now, now))
        if pid != BROKEN_POLICY:
            want["policies"][pid] = (doc, rules)
    for i in range(CACHE_LIVE + CACHE_EXPIRED):
        src, dst, k = node_id(i % NODES), node_id((i * 7 + 1) % NODES), i % 5
        bundle = json.dumps({"paths": [[src, "relais-ß", dst]], "k": k,
                             "cost": i}, ensure_ascii=i % 2 == 0)
        live = i < CACHE_LIVE
        expires = now + 3600 + i if live else now - 1 - i
        c.execute("INSERT INTO path_cache VALUES (?,?,?,?,?,?,?)",
                  (f"{src}:{dst}:{k}:{i}", src, dst, k, bundle, now - 10,
                   expires))
        if live:
            want["cache"][(src, dst, k)] = bundle
        else:
            want["expired"].append((src, dst, k))
    c.commit()
    c.close()
    # an expired row's key that a live row also has is not "absent"
    want["expired"] = [key for key in want["expired"]
                       if key not in want["cache"]]
    return want


def readback(dir_, want):
    """Reads every row of want back from dir_ through mesh_readback."""
    reqs = [("node", i) for i in want["nodes"]]
    reqs += [("policy", p) for p in want["policies"]]
    reqs += [("policy", BROKEN_POLICY)]
    reqs += [("cache", *k) for k in want["cache"]]
    reqs += [("cache", *k) for k in want["expired"]]
    text = "".join("\t".join(str(f) for f in r) + "\n" for r in reqs)
    p = subprocess.run([*WRAP, READBACK, dir_], input=text.encode(),
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        return None, p.stderr.decode("utf-8", "replace")
    out = [json.loads(line) for line in p.stdout.decode().splitlines()]
    return dict(zip([r for r in reqs], out)), ""


def compare(got, want):
    """The differences between what DIR holds and the rows put in."""
    bad = []
    for i, (ifs, prs, started, routes) in want["nodes"].items():
        g = got[("node", i)]
        if (g.get("interfaces"), g.get("protocols"), g.get("started"),
                g.get("routes_discovered")) != (ifs, prs, started, routes):
            bad.append(f"node {i}: {g}")
    for p, (doc, rules) in want["policies"].items():
        g = got[("policy", p)]
        if (g.get("yaml"), g.get("rules_count")) != (doc, rules):
            bad.append(f"policy {p}: {g}")
    if got[("policy", BROKEN_POLICY)] != {"absent": True}:
        bad.append(f"broken policy imported: {got[('policy', BROKEN_POLICY)]}")
    for key, bundle in want["cache"].items():
        if got[("cache", *key)].get("bundle") != bundle:
            bad.append(f"cache {key}: {got[('cache', *key)]}")
    for key in want["expired"]:
        if got[("cache", *key)] != {"absent": True}:
            bad.append(f"expired cache {key} imported")
    return bad


def file_state(p):
    st = os.stat(p)
    with open(p, "rb") as f:
        return f.read(), st.st_mtime_ns


# ---------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------

def main():
    rc, _, err = run("import-sqlite", path("none.db"), path("none"))
    if rc == 4 and "without SQLite support" in err:
        print("1..0 # SKIP this logkeep was built without SQLite support")
        return 77

    now = time.time()
    db, d = path("mesh_data.db"), path("dir")
    want = make_fixture(db, now)
    rows = NODES + POLICIES + CACHE_LIVE + CACHE_EXPIRED
    before = file_state(db)

    t0 = time.monotonic()
    rc, out, err = run("import-sqlite", "--json", db, d)
    elapsed = time.monotonic() - t0
    print(f"# import of {rows} rows: {elapsed:.2f} s, "
          f"{rows / elapsed:.0f} rows/s (this machine, one run)")
    ok("an import with a broken policy exits 3", rc == 3, f"exit {rc}\n{err}")
    res = parse_json(out)
    tables = res.get("tables", {})
    ok("--json prints one JSON object on one line",
       res != {} and out.count("\n") == 1, out[:500])
    ok("counts: every node imported",
       tables.get("nodes") == {"imported": NODES, "unchanged": 0,
                               "skipped": 0, "failed": 0}, tables)
    ok("counts: the broken policy failed, the others imported",
       tables.get("policies") == {"imported": POLICIES - 1, "unchanged": 0,
                                  "skipped": 0, "failed": 1}, tables)
    ok("counts: expired path-cache rows skipped, the others imported",
       tables.get("path_cache") == {"imported": CACHE_LIVE, "unchanged": 0,
                                    "skipped": CACHE_EXPIRED, "failed": 0},
       tables)
    rej = res.get("rejected", [])
    ok("the broken policy is listed by id with its line and column",
       len(rej) == 1 and rej[0].get("table") == "policies" and
       rej[0].get("id") == BROKEN_POLICY and rej[0].get("line") == 3 and
       rej[0].get("column", 0) > 0, rej)
    if len(rej) == 1:
        where = (f"policies rowid {rej[0].get('rowid')} (policy_id \"")
        ok("stderr names the broken policy's rowid, line and column",
           where in err and f":{rej[0].get('line')}:"
           f"{rej[0].get('column')}: " in err, err)
    ok("the import says it completed", res.get("complete") is True, res)
    ok("the database is not changed", file_state(db) == before)

    got, why = readback(d, want)
    ok("every row reads back through the mesh layer", got is not None, why)
    if got is not None:
        bad = compare(got, want)
        ok(f"every row equals what was put in ({rows} rows)", not bad,
           "\n".join(bad[:10]))

    # a few rows through the tool's own commands
    first = node_id(1)
    rc, out, err = run("node", "get", "--json", d, first)
    ifs, prs, started, routes = want["nodes"][first]
    g = parse_json(out)
    ok("node get shows an imported node with a non-ASCII id",
       rc == 0 and g.get("id") == first and g.get("interfaces") == ifs and
       g.get("protocols") == prs and g.get("started") == bool(started) and
       g.get("routes_discovered") == routes, f"{rc} {out} {err}")
    pid = "policy-α-0006"
    rc, out, err = run("policy", "get", "--json", d, pid)
    g = parse_json(out)
    ok("policy get shows the document and the rules counted from it",
       rc == 0 and g.get("yaml") == want["policies"][pid][0] and
       g.get("rules_count") == 6, f"{rc} {out} {err}")
    (src, dst, k), bundle = next(iter(want["cache"].items()))
    rc, out, err = run("cache", "get", d, src, dst, str(k))
    ok("cache get prints an imported bundle", rc == 0 and out == bundle,
       f"{rc} {out} {err}")
    if want["expired"]:
        src, dst, k = want["expired"][0]
        rc, out, err = run("cache", "get", d, src, dst, str(k))
        ok("cache get finds no expired row (exit 1)", rc == 1, f"{rc} {out}")

    # the second run: the same state, nothing rewritten
    rc, out, err = run("import-sqlite", "--json", db, d)
    res2 = parse_json(out)
    t2 = res2.get("tables", {})
    ok("a second import exits 3 again (the broken policy)", rc == 3,
       f"exit {rc}\n{err}")
    ok("the second import finds every node and policy already there",
       t2.get("nodes", {}).get("unchanged") == NODES and
       t2.get("policies", {}).get("unchanged") == POLICIES - 1 and
       t2.get("path_cache", {}).get("imported") == CACHE_LIVE, t2)
    got2, why = readback(d, want)
    ok("after the second import every row reads back the same, times "
       "included (nothing rewritten)", got2 is not None and got2 == got,
       why or "the readbacks differ")

    # an import cut short is finished by the next run
    part = path("part.db")
    shutil.copy(db, part)
    c = sqlite3.connect(part)
    c.execute("DELETE FROM nodes WHERE rowid % 2 = 0")
    c.execute("DELETE FROM path_cache WHERE rowid > 1500")
    c.commit()
    c.close()
    d2 = path("dir-resumed")
    rc1, _, err1 = run("import-sqlite", part, d2)
    rc2, out2, err2 = run("import-sqlite", db, d2)
    got3, why = readback(d2, want)
    ok("an import of part of the rows, then of all, ends as one import",
       rc1 == 3 and rc2 == 3 and got3 is not None and not compare(got3, want),
       f"{rc1} {rc2}\n{err1}{err2}{why}")

    # refusals
    junk = path("junk.db")
    with open(junk, "wb") as f:
        f.write(b"this is not a database\n" * 100)
    rc, _, err = run("import-sqlite", junk, path("dir-junk"))
    ok("a file that is not SQLite is refused (exit 2)",
       rc == 2 and "not a SQLite database" in err, f"{rc} {err}")
    ok("a refused import does not create DIR",
       not os.path.exists(path("dir-junk")))

    for what, sql, needle in [
            ("a table", "DROP TABLE path_cache", "has no table path_cache"),
            ("a column", "ALTER TABLE path_cache DROP COLUMN expires_at",
             "table path_cache has no column expires_at")]:
        other = path(f"missing-{what[2:]}.db")
        c = sqlite3.connect(other)
        c.executescript(SCHEMA)
        if what == "a column":  # DROP COLUMN refuses indexed columns
            c.execute("DROP INDEX idx_cache_expires")
        c.execute(sql)
        c.commit()
        c.close()
        rc, _, err = run("import-sqlite", other, path("dir-missing"))
        ok(f"a database missing {what} is refused naming it (exit 2)",
           rc == 2 and needle in err, f"{rc} {err}")

    rc, _, err = run("import-sqlite", path("no-such.db"), path("dir-none"))
    ok("a DB that does not exist is refused (exit 2)", rc == 2, f"{rc} {err}")
    fifo = path("fifo.db")
    os.mkfifo(fifo)
    rc, _, err = run("import-sqlite", fifo, path("dir-fifo"))
    ok("a FIFO as DB is refused at once (exit 2)", rc == 2, f"{rc} {err}")
    rc, out, err = run("import-sqlite", db)
    ok("a missing operand is a usage error (exit 2)", rc == 2, err)
    rc, out, err = run("import-sqlite", "--help")
    ok("--help says resumable, not atomic, and shows examples",
       rc == 0 and "Resumable, not atomic" in out and "EXAMPLES" in out,
       out[:300])

    hostile(now)

    print(f"1..{n}")
    return 1 if failed else 0


def hostile(now):
    """Rows no predecessor wrote: each rejected with table and rowid."""
    db, d = path("hostile.db"), path("dir-hostile")
    c = sqlite3.connect(db)
    # no NOT NULL: SQLite takes anything into these columns
    c.executescript("""
        CREATE TABLE nodes (node_id, interfaces, protocols, started,
                            routes_discovered);
        CREATE TABLE policies (policy_id, yaml_content);
        CREATE TABLE path_cache (source, destination, k, bundle_json,
                                 expires_at);
    """)
    text = "CAST(? AS TEXT)"  # bytes stored as TEXT, whatever they are
    bad_nodes = [
        (None, "[]", "[]", 0, 0),
        (b"n\xff\xfe", "[]", "[]", 0, 0),          # not UTF-8
        (b"n\x00n", "[]", "[]", 0, 0),             # a NUL inside
        ("x" * 300, "[]", "[]", 0, 0),             # over-long id
        ("n-ifs-null", None, "[]", 0, 0),
        ("n-ifs-int", 5, "[]", 0, 0),
        ("n-ifs-not-strings", "[1, 2]", "[]", 0, 0),
        ("n-ifs-unclosed", '["eth0"', "[]", 0, 0),
        ("n-ifs-nul", '["a\\u0000b"]', "[]", 0, 0),
        ("n-ifs-surrogate", '["\\ud800"]', "[]", 0, 0),
        ("n-ifs-65", json.dumps([f"if{i}" for i in range(65)]), "[]", 0, 0),
        ("n-ifs-long-name", json.dumps(["i" * 65]), "[]", 0, 0),
        ("n-started-7", "[]", "[]", 7, 0),
        ("n-routes-negative", "[]", "[]", 0, -1),
        ("n-blob-id", "[]", "[]", 0, 0),
    ]
    for row in bad_nodes:
        sql = f"INSERT INTO nodes VALUES ({text if isinstance(row[0], bytes) else '?'},?,?,?,?)"
        if row[0] == "n-blob-id":
            c.execute("INSERT INTO nodes VALUES (X'6e6f6465',?,?,?,?)",
                      row[1:])
            continue
        c.execute(sql, row)
    c.execute("INSERT INTO nodes VALUES ('n-good', '[\"eth0\"]', '[]', "
              "NULL, NULL)")  # NULL: the column default, 0
    bad_policies = [
        ("p-null", None),
        ("p-not-utf8", b"rules: [\xff]\n"),
        ("p-huge", "rules:\n" + "  - x\n" * 60000),   # over 256 KiB
        ("p-no-rules", "name: x\n"),
    ]
    for pid, doc in bad_policies:
        c.execute(f"INSERT INTO policies VALUES (?, {text if isinstance(doc, bytes) else '?'})",
                  (pid, doc))
    c.execute("INSERT INTO policies VALUES ('p-good', 'rules: [a]\n')")
    later, earlier = now + 3600, now - 3600
    bad_cache = [
        ("s", "d", 1, "x" * (2 << 20), later),     # a 2 MiB bundle
        ("s", "d", -1, "{}", later),
        ("s", "d", 1 << 32, "{}", later),
        ("s", "d", 2, "{}", "soon"),
        (None, "d", 3, "{}", later),
        ("s", "d", 4, b"\x00\xff", later),         # a blob
    ]
    for row in bad_cache:
        c.execute("INSERT INTO path_cache VALUES (?,?,?,?,?)", row)
    c.execute("INSERT INTO path_cache VALUES ('s', 'd', 5, NULL, ?)",
              (earlier,))                           # expired: skipped
    c.execute("INSERT INTO path_cache VALUES ('s', 'd', 6, '{}', ?)",
              (later,))
    c.commit()
    c.close()

    rc, out, err = run("import-sqlite", "--json", db, d)
    ok("hostile rows: the import ends with exit 3, not a crash", rc == 3,
       f"exit {rc}\n{err}")
    res = parse_json(out)
    t = res.get("tables", {})
    ok("hostile rows: each is counted as failed, the good ones imported",
       t.get("nodes") == {"imported": 1, "unchanged": 0, "skipped": 0,
                          "failed": len(bad_nodes)} and
       t.get("policies") == {"imported": 1, "unchanged": 0, "skipped": 0,
                             "failed": len(bad_policies)} and
       t.get("path_cache") == {"imported": 1, "unchanged": 0, "skipped": 1,
                               "failed": len(bad_cache)}, t)
    rejected = res.get("rejected", [])
    lines = [line for line in err.splitlines() if " rowid " in line]
    ok("hostile rows: one stderr line and one JSON entry for each, naming "
       "table and rowid",
       len(lines) == len(rejected) ==
       len(bad_nodes) + len(bad_policies) + len(bad_cache) and
       all(f"{r['table']} rowid {r['rowid']}" in line
           for r, line in zip(rejected, lines)), err)
    by_id = {r.get("id"): r["problem"] for r in rejected}
    for rid, needle in [("n-ifs-null", "interfaces is NULL"),
                        ("n-ifs-65", "more items than allowed"),
                        ("n-ifs-long-name", "longer than 64 bytes"),
                        ("n-ifs-nul", "U+0000"),
                        ("n-ifs-surrogate", "lone surrogate"),
                        ("n-started-7", "started is 7"),
                        ("p-null", "yaml_content is NULL"),
                        ("p-not-utf8", "not UTF-8"),
                        ("x" * 64 + "...", "is 300 bytes, at most 128")]:
        ok(f"hostile rows: {rid[:20]} is rejected saying why",
           needle in by_id.get(rid, ""), by_id.get(rid))
    big = [r for r in rejected if "longer than 262144" in r["problem"]]
    ok("hostile rows: the 300 KiB policy and the 2 MiB bundle are refused "
       "by length", [r["table"] for r in big] == ["policies", "path_cache"],
       big)
    good = {"nodes": {"n-good": (["eth0"], [], 0, 0)},
            "policies": {"p-good": ("rules: [a]\n", 1)},
            "cache": {("s", "d", 6): "{}"}, "expired": [("s", "d", 5)]}
    got, why = readback(d, good)
    ok("hostile rows: the good rows beside them read back as they were put",
       got is not None and not compare(got, good), why)


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(T, ignore_errors=True)

#!/usr/bin/python3
"""Tests of the Python trace toolkit in analysis/ (reader, report, diff,
history).

Run from the repository root with Debian's Python (it has h5py):

    /usr/bin/python3 tests/test_analysis.py

It needs build/aureon-sim (run `make` first; the tests do not build it) and
writes every trace into temporary directories that are removed afterwards.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANALYSIS = os.path.join(ROOT, "analysis")
SIM = os.path.join(ROOT, os.environ.get("AU_BIN", "build"), "aureon-sim")
PING = os.path.join(ROOT, "scenarios", "ping.ini")
PYTHON = "/usr/bin/python3"

sys.path.insert(0, ANALYSIS)
import aureon_trace as at  # noqa: E402

SHARED = {}  # traces made once for the module: {"dir", "a", "a2", "b", "a_out"}


def run_sim(scenario, trace, seed=None):
    """Run the simulator writing `trace`; return its standard output."""
    cmd = [SIM, "run", scenario, "--trace", trace, "--force"]
    if seed is not None:
        cmd[3:3] = ["--seed", str(seed)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0 or not os.path.exists(trace):
        raise RuntimeError(f"aureon-sim failed ({p.returncode}): {p.stderr or p.stdout}")
    return p.stdout


def tool(name, *args):
    """Run analysis/<name> with Debian's Python; return the CompletedProcess."""
    return subprocess.run([PYTHON, os.path.join(ANALYSIS, name), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def setUpModule():
    """Make the shared traces: ping.ini twice with its seed, once with seed 7."""
    if not os.access(SIM, os.X_OK):
        raise unittest.SkipTest(f"{SIM} not built (run make)")
    d = tempfile.mkdtemp(prefix="aureon-analysis-")
    SHARED["dir"] = d
    SHARED["a"] = os.path.join(d, "a.h5")
    SHARED["a2"] = os.path.join(d, "a2.h5")
    SHARED["b"] = os.path.join(d, "b.h5")
    SHARED["a_out"] = run_sim(PING, SHARED["a"])
    run_sim(PING, SHARED["a2"])
    SHARED["b_out"] = run_sim(PING, SHARED["b"], seed=7)


def tearDownModule():
    """Remove the shared traces."""
    if "dir" in SHARED:
        shutil.rmtree(SHARED["dir"], ignore_errors=True)



def edn_lines(text):
    """The op-map lines of an EDN export (without its ; header comments)."""
    return [ln for ln in text.splitlines() if not ln.startswith(";")]

class TempDirCase(unittest.TestCase):
    """A test case with a private temporary directory, removed afterwards."""

    def setUp(self):
        """Create self.tmp."""
        self.tmp = tempfile.mkdtemp(prefix="aureon-analysis-t-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def path(self, name):
        """A path inside the private directory."""
        return os.path.join(self.tmp, name)


# ---- synthetic traces -------------------------------------------------

def enum8(names):
    """An HDF5 enum dtype over uint8 with values 0.. in order."""
    return h5py.enum_dtype({n: i for i, n in enumerate(names)}, basetype=np.uint8)


KIND_DT = h5py.enum_dtype({"NODE_BOOT": 1, "NODE_CRASH": 2, "NODE_RESTART": 3,
                           "RUN_END": 16, "PING_RTT": 102}, basetype=np.dtype("<u2"))
FATE_DT = enum8(["delivered", "dropped", "partitioned", "duplicated", "corrupted", "dst_down"])
TYPE_DT = h5py.enum_dtype({"kv.REQ": 1, "kv.RESP": 2}, basetype=np.dtype("<u2"))
EVENT_DT = np.dtype([("t_ns", "<i8"), ("node", "<u4"), ("kind", KIND_DT), ("a", "<i8"),
                     ("b", "<i8"), ("c", "<i8")])
MESSAGE_DT = np.dtype([("record", "<u8"), ("send_ns", "<i8"), ("recv_ns", "<i8"),
                       ("src", "<u4"), ("dst", "<u4"), ("type", TYPE_DT), ("bytes", "<u4"),
                       ("fate", FATE_DT)])


def model_dt(cols):
    """Dtype of a model table: record, t_ns, node, then cols."""
    return np.dtype([("record", "<u8"), ("t_ns", "<i8"), ("node", "<u4")] + cols)


def write_synthetic(path, tables, nodes=4, end_ns=10 * 10**9):
    """Write an Aureon-shaped trace with the given tables.

    tables: {name: (structured array without meaningful record column,
    service_index, table_index)} plus "events" and "messages" arrays.
    Global record indices are assigned by time (ties: events, messages,
    then model tables in the given order); the trace hash is computed by
    the reader and stored, as the simulator would."""
    names = list(tables)
    t_all, tab_all, row_all = [], [], []
    for ti, name in enumerate(names):
        arr = tables[name][0] if isinstance(tables[name], tuple) else tables[name]
        t = arr["send_ns"] if name == "messages" else arr["t_ns"]
        t_all.append(np.asarray(t, dtype=np.int64))
        tab_all.append(np.full(len(arr), ti))
        row_all.append(np.arange(len(arr)))
    t_all, tab_all, row_all = map(np.concatenate, (t_all, tab_all, row_all))
    order = np.lexsort((row_all, tab_all, t_all))
    record = np.empty(len(order), dtype=np.int64)
    record[order] = np.arange(len(order))
    with h5py.File(path, "w") as f:
        f.attrs["seed"] = np.uint64(5)
        f.attrs["scenario"] = np.bytes_("[run]\nname = synthetic\n")
        f.attrs["scenario_name"] = np.bytes_("synthetic")
        f.attrs["aureon_version"] = np.bytes_("test")
        f.attrs["services"] = np.bytes_("kv,rqml,swim")
        f.attrs["nodes"] = np.uint64(nodes)
        f.attrs["message_sample"] = np.uint64(1)
        f.attrs["sim_end_ns"] = np.int64(end_ns)
        f.attrs["events"] = np.uint64(len(order))
        f.attrs["records"] = np.uint64(len(order))
        f.attrs["trace_hash"] = np.bytes_("0" * 64)
        start = 0
        for ti, name in enumerate(names):
            spec = tables[name]
            arr = (spec[0] if isinstance(spec, tuple) else spec).copy()
            n = len(arr)
            if "record" in arr.dtype.names:
                arr["record"] = record[start:start + n]
            start += n
            d = f.create_dataset(name, data=arr, maxshape=(None,), chunks=True)
            if isinstance(spec, tuple):
                d.attrs["help"] = np.bytes_(f"synthetic {name}")
                d.attrs["service_index"] = np.uint64(spec[1])
                d.attrs["table_index"] = np.uint64(spec[2])
    h = at.recompute_trace_hash(path)
    with h5py.File(path, "r+") as f:
        del f.attrs["trace_hash"]
        f.attrs["trace_hash"] = np.bytes_(h)


def synthetic_tables(nodes=4):
    """Events, messages and /raft, /rqml, /membership, /ping, /metrics rows."""
    ev = np.zeros(nodes + 3, dtype=EVENT_DT)
    ev["node"][:nodes] = np.arange(1, nodes + 1)
    ev["kind"][:nodes] = 1
    ev[nodes] = (5 * 10**9, 2, 2, 0, 0, 0)
    ev[nodes + 1] = (7 * 10**9, 2, 3, 1, 0, 0)
    ev[nodes + 2] = (10 * 10**9, 0, 16, 42, 0, 0)
    m = np.zeros(60, dtype=MESSAGE_DT)
    m["send_ns"] = np.arange(60) * 150_000_000 + 1
    m["recv_ns"] = m["send_ns"] + 2_000_000 + np.arange(60) * 1000
    m["src"] = np.arange(60) % nodes + 1
    m["dst"] = (np.arange(60) + 1) % nodes + 1
    m["type"] = np.arange(60) % 2 + 1
    m["bytes"] = 16
    m["fate"] = np.arange(60) % 6
    m["recv_ns"][np.isin(m["fate"], (1, 2, 5))] = -1
    raft_dt = model_dt([("term", "<i8"), ("role", enum8(["follower", "candidate", "leader"])),
                        ("commit_index", "<i8"), ("last_index", "<i8")])
    raft = np.zeros(nodes * 20, dtype=raft_dt)
    t = np.repeat(np.arange(20), nodes) * 500_000_000 + 10
    node = np.tile(np.arange(1, nodes + 1), 20)
    raft["t_ns"], raft["node"] = t, node
    raft["term"] = np.where(t < 5 * 10**9, 1, 2)
    leader = np.where(t < 5 * 10**9, 1, 3)
    raft["role"] = np.where(node == leader, 2, 0)
    raft["commit_index"] = np.arange(len(raft)) // nodes
    raft["last_index"] = raft["commit_index"] + 1
    rq_dt = model_dt([("job", "<u4"), ("task", "<u4"), ("round", "<u4"), ("residual", "<f8"),
                      ("shard", "<u4"), ("event", enum8(["shard", "round", "done"]))])
    rq = np.zeros(2 * 10 * 3, dtype=rq_dt)
    rq["job"] = np.repeat([1, 2], 30)
    rq["round"] = np.tile(np.repeat(np.arange(10), 3), 2)
    rq["task"] = np.tile(np.arange(3), 20)
    rq["residual"] = rq["job"] * 10.0 ** -rq["round"].astype(float)
    rq["t_ns"] = rq["round"].astype(np.int64) * 10**9 + rq["job"] * 1000 + rq["task"]
    rq = rq[np.argsort(rq["t_ns"], kind="stable")]
    rq["node"] = rq["task"] + 1
    rq["shard"] = rq["task"]
    rq["event"] = np.where(rq["task"] == 0, 1, 0)  # task 0 rows: rounds; others: shards
    rq["residual"][rq["event"] == 0] = np.nan
    mb_dt = model_dt([("member", "<u4"), ("state", enum8(["alive", "suspect", "dead"])),
                      ("incarnation", "<u4")])
    mb = np.zeros(nodes * nodes + nodes - 1, dtype=mb_dt)
    k = nodes * nodes
    mb["node"][:k] = np.repeat(np.arange(1, nodes + 1), nodes)
    mb["member"][:k] = np.tile(np.arange(1, nodes + 1), nodes)
    mb["t_ns"][:k] = 1000 + np.arange(k)
    others = [n for n in range(1, nodes + 1) if n != 2]
    mb["node"][k:] = others
    mb["member"][k:] = 2
    mb["state"][k:] = 2
    mb["t_ns"][k:] = 6 * 10**9 + np.arange(nodes - 1)
    ping_dt = model_dt([("peer", "<u4"), ("seq", "<i8"), ("rtt_ns", "<i8"),
                        ("outcome", enum8(["answered", "timeout", "unmatched"]))])
    p = np.zeros(100, dtype=ping_dt)
    p["t_ns"] = np.arange(100) * 90_000_000 + 7
    p["node"] = np.arange(100) % nodes + 1
    p["peer"] = (np.arange(100) + 1) % nodes + 1
    p["seq"] = np.arange(100)
    p["outcome"] = (np.arange(100) % 10 == 0).astype(np.uint8)
    p["rtt_ns"] = np.where(p["outcome"] == 0, 3_000_000 + np.arange(100) * 10_000, -1)
    # /metrics (execution layer): one row per node per second; n2 is down
    # from 5 s to 7 s, so it writes no rows then.
    mt_dt = model_dt([("queue_depth", "<u4"), ("active_tasks", "<u4"), ("leases", "<u4"),
                      ("msgs_in", "<i8"), ("msgs_out", "<i8"), ("global_queued", "<i8"),
                      ("done", "<i8"), ("dead", "<i8"), ("leader", enum8(["no", "yes"]))])
    sec = np.repeat(np.arange(1, 11), nodes)
    nd = np.tile(np.arange(1, nodes + 1), 10)
    keep = ~((nd == 2) & (sec >= 5) & (sec < 7))
    mt = np.zeros(int(keep.sum()), dtype=mt_dt)
    mt["t_ns"], mt["node"] = sec[keep] * 10**9, nd[keep]
    mt["queue_depth"] = mt["node"] % 3
    mt["active_tasks"] = 4
    mt["leases"] = mt["queue_depth"] + 4
    mt["done"] = mt["t_ns"] // 10**8
    mt["global_queued"] = 1000 - mt["done"]
    return {"events": ev, "messages": m, "raft": (raft, 0, 0), "rqml": (rq, 1, 0),
            "membership": (mb, 2, 0), "ping": (p, 0, 1), "metrics": (mt, 3, 0)}


HISTORY_DT = model_dt([("client", "<u4"), ("op", enum8(["get", "put", "cas"])), ("key", "<i8"),
                       ("value", "<i8"), ("expected", "<i8"), ("cas_ok", enum8(["no", "yes"])),
                       ("call_ns", "<i8"), ("return_ns", "<i8"),
                       ("outcome", enum8(["ok", "fail", "unknown"]))])


def synthetic_history(dtype=HISTORY_DT, rows=None):
    """Seven operations of three clients (the /history layout of
    models/kv.c), one of them never answered; or the given rows."""
    rows = rows or [  # client, op, key, value, expected, cas_ok, call, return, outcome
        (1, 1, 5, 10, 0, 0, 100, 200, 0),   # put 5=10 ok
        (2, 0, 5, 10, 0, 0, 150, 250, 0),   # get 5 -> 10
        (1, 2, 5, 11, 10, 0, 200, 300, 0),  # cas 5: 10 -> 11 completes but does not swap
        (3, 1, 6, 1, 0, 0, 120, -1, 2),     # put 6=1, outcome unknown
        (3, 0, 6, 0, 0, 0, 400, 500, 0),    # get 6 -> 0 while the put is still open
        (2, 0, 7, 0, 0, 0, 260, 270, 1),    # get 7 fails (not applied)
        (1, 2, 5, 12, 10, 1, 320, 350, 0),  # cas 5: 10 -> 12 swaps
    ]
    full = np.zeros(len(rows), dtype=HISTORY_DT)
    for i, r in enumerate(rows):
        for c, v in zip(("client", "op", "key", "value", "expected", "cas_ok", "call_ns",
                         "return_ns", "outcome"), r):
            full[i][c] = v
    full["node"] = full["client"]
    full["t_ns"] = np.where(full["return_ns"] >= 0, full["return_ns"], full["call_ns"] + 5000)
    full = full[np.argsort(full["t_ns"], kind="stable")]
    h = np.zeros(len(rows), dtype=dtype)
    for c in dtype.names:
        h[c] = full[c]
    return h


# ---- reader ---------------------------------------------------------------

class ReaderTest(TempDirCase):
    """aureon_trace: counts, hash, enums, ranges, errors."""

    def test_counts_match_the_simulator(self):
        """records == events + messages + model rows, and the simulator's
        printed record count, trace hash and fate counts agree."""
        with at.open_trace(SHARED["a"]) as tr:
            rows = sum(len(tr.read(t)) for t in tr.tables())
            self.assertEqual(rows, tr.attrs["records"])
            self.assertEqual(sorted(at.record_layout(tr)["rows"]), sorted(tr.tables()))
            out = SHARED["a_out"]
            m = re.search(r"(\d+) events, (\d+) trace records", out)
            if m:
                self.assertEqual(int(m.group(1)), tr.attrs["events"])
                self.assertEqual(int(m.group(2)), tr.attrs["records"])
            m = re.search(r"trace hash: ([0-9a-f]{64})", out)
            if m:
                self.assertEqual(m.group(1), tr.attrs["trace_hash"])
            m = re.search(r"delivered (\d+), dropped (\d+), partitioned (\d+), "
                          r"duplicated (\d+), corrupted (\d+), dst_down (\d+)", out)
            if m:
                fates = np.bincount(tr.read("messages")["fate"], minlength=6)[:6]
                self.assertEqual([int(x) for x in m.groups()], fates.tolist())

    def test_recomputed_hash_matches(self):
        """The hash rebuilt from the records equals the stored one."""
        for key in ("a", "b"):
            with at.open_trace(SHARED[key]) as tr:
                self.assertEqual(at.recompute_trace_hash(tr), tr.attrs["trace_hash"], key)
        self.assertNotEqual(at.root_attributes(SHARED["a"])["trace_hash"],
                            at.root_attributes(SHARED["b"])["trace_hash"])

    def test_hash_with_messages_off_and_sampled(self):
        """messages = none still hashes (they are not records then);
        1/3 sampling makes the hash unavailable with a reason."""
        with open(PING) as f:
            text = f.read()
        for setting, ok in (("none", True), ("1/3", False)):
            sc = self.path(f"s{ok}.ini")
            with open(sc, "w") as f:
                f.write(text + f"\n[trace]\nmessages = {setting}\n")
            trace = self.path(f"s{ok}.h5")
            run_sim(sc, trace)
            with at.open_trace(trace) as tr:
                if ok:
                    self.assertEqual(at.recompute_trace_hash(tr), tr.attrs["trace_hash"])
                else:
                    with self.assertRaisesRegex(at.HashUnavailable, "sampled 1 in 3"):
                        at.recompute_trace_hash(tr)

    def test_enum_names(self):
        """Kind, fate and message type values resolve to names."""
        with at.open_trace(SHARED["a"]) as tr:
            kinds = tr.enum_mapping("events", "kind")
            self.assertEqual(kinds[1], "NODE_BOOT")
            self.assertEqual(kinds[16], "RUN_END")
            self.assertEqual(at.enum_mapping(tr, "messages", "fate")[5], "dst_down")
            self.assertIsNone(tr.enum_mapping("events", "node"))
            ev = tr.read("events", 0, 50)
            named = tr.with_enum_names("events", ev)
            self.assertEqual(named.dtype["kind"].kind, "U")
            self.assertEqual(named["kind"][0], kinds[int(ev["kind"][0])])
            self.assertTrue(np.array_equal(named["t_ns"], ev["t_ns"]))
            self.assertIn("RUN_END", at.load_table(tr, "events", names=True)["kind"].tolist())
            self.assertEqual(tr.value_names("events", "kind", np.array([999]))[0], "?999")
            types = tr.value_names("messages", "type", tr.read("messages")["type"])
            self.assertTrue(all(t.startswith("ping.") for t in types))

    def test_ranges_and_chunks(self):
        """Row ranges and the chunked iterator give the same rows as a full read."""
        with at.open_trace(SHARED["a"]) as tr:
            full = tr.read("messages")
            self.assertTrue(np.array_equal(tr.read("messages", 10, 20), full[10:20]))
            self.assertEqual(len(tr.read("messages", 5, 5)), 0)
            chunks = list(tr.iter_chunks("messages", chunk_rows=1000))
            self.assertEqual(len(chunks), -(-len(full) // 1000))
            self.assertTrue(np.array_equal(np.concatenate(chunks), full))
            self.assertEqual(at.list_tables(tr)[:2], ["events", "messages"])

    def test_to_dataframe(self):
        """to_dataframe works with pandas, or explains that pandas is missing."""
        import importlib.util
        if importlib.util.find_spec("pandas") is None:
            with self.assertRaisesRegex(ImportError, "pandas"):
                at.to_dataframe("events", SHARED["a"])
        else:
            with at.open_trace(SHARED["a"]) as tr:
                self.assertEqual(len(at.to_dataframe("events", tr)), tr.rows("events"))

    def test_h5dump_parses_the_file(self):
        """h5dump -H reads the header and sees the datasets and named types."""
        if not os.path.exists("/usr/bin/h5dump"):
            self.skipTest("no /usr/bin/h5dump")
        p = subprocess.run(["/usr/bin/h5dump", "-H", SHARED["a"]], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        for name in ('DATASET "events"', 'DATASET "messages"', 'DATATYPE "kind_t"'):
            self.assertIn(name, p.stdout)

    def test_open_errors(self):
        """Missing, non-HDF5 and non-Aureon files give TraceErrors naming them."""
        text = self.path("x.txt")
        with open(text, "w") as f:
            f.write("hello\n")
        plain = self.path("plain.h5")
        with h5py.File(plain, "w") as f:
            f["x"] = np.arange(3)
        for p, msg in ((self.path("nope.h5"), "no such file"), (text, "not an HDF5 file"),
                       (plain, "not an Aureon trace")):
            with self.assertRaises(at.TraceError) as cm:
                at.open_trace(p)
            self.assertIn(p, str(cm.exception))
            self.assertIn(msg, str(cm.exception))

    def test_synthetic_model_tables_hash_roundtrip(self):
        """Model rows (u32, f64, enum8 columns) serialise as the spec says:
        a hand-built record stream hashes like recompute_trace_hash."""
        import hashlib
        import struct
        path = self.path("syn.h5")
        write_synthetic(path, synthetic_tables())
        with at.open_trace(path) as tr:
            recs = {}
            for name in tr.tables():
                for r in tr.read(name):
                    if name == "events":
                        b = b"E" + struct.pack("<qIHqqq", *(int(r[c]) for c in
                                                           ("t_ns", "node", "kind", "a", "b", "c")))
                        recs.setdefault("ev", []).append(b)
                    elif name == "messages":
                        b = b"M" + struct.pack("<qqIIBBIB", int(r["send_ns"]), int(r["recv_ns"]),
                                               int(r["src"]), int(r["dst"]), int(r["type"]) >> 8,
                                               int(r["type"]) & 255, int(r["bytes"]), int(r["fate"]))
                        recs[int(r["record"])] = b
                    else:
                        a = tr.table_attrs(name)
                        b = b"T" + struct.pack("<BBqI", a["service_index"], a["table_index"],
                                               int(r["t_ns"]), int(r["node"]))
                        for c in r.dtype.names[3:]:
                            b += r[c].tobytes()
                        recs[int(r["record"])] = b
            evs = iter(recs.pop("ev"))
            sha = hashlib.sha256()
            for i in range(tr.attrs["records"]):
                sha.update(recs[i] if i in recs else next(evs))
            self.assertEqual(sha.hexdigest(), at.recompute_trace_hash(tr))


# ---- report ---------------------------------------------------------------

class ReportTest(TempDirCase):
    """report: plots, summary.md, skipped plots, errors."""

    def check_outputs(self, out, expect_png):
        """Every expected PNG exists, is a non-empty PNG and is linked."""
        with open(os.path.join(out, "summary.md"), encoding="utf-8") as f:
            md = f.read()
        links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
        for png in expect_png:
            p = os.path.join(out, png)
            self.assertTrue(os.path.exists(p), png)
            self.assertGreater(os.path.getsize(p), 1000, png)
            with open(p, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", png)
            self.assertIn(png, links)
        for link in links:
            self.assertTrue(os.path.exists(os.path.join(out, link)), link)
        return md

    def test_report_on_ping_trace(self):
        """Engine plots plus the /ping RTT plot; model plots listed as skipped."""
        out = self.path("rep")
        p = tool("report", SHARED["a"], "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        md = self.check_outputs(out, ["event_rate.png", "message_fates.png", "latency_cdf.png",
                                      "traffic_heatmap.png"])
        with at.open_trace(SHARED["a"]) as tr:
            a = tr.attrs
            self.assertIn(a["scenario_name"], md)
            self.assertIn(f"seed {a['seed']}", md)
            self.assertIn(a["trace_hash"], md)
            self.assertIn("matches", md)
            self.assertIn(f"| /events | {tr.rows('events')} |", md)
            has_ping = tr.has("ping") and "rtt_ns" in tr.dtype("ping").names
        for word in ("delivered", "NODE_CRASH", "PARTITION_START", "Skipped plots", "no /raft table",
                     "no /rqml table", "no /membership table"):
            self.assertIn(word, md)
        if has_ping:
            self.check_outputs(out, ["ping_rtt.png"])

    def test_report_on_model_tables(self):
        """All eleven plots appear when /raft, /rqml, /membership, /ping and
        /metrics exist."""
        trace, out = self.path("syn.h5"), self.path("rep")
        write_synthetic(trace, synthetic_tables())
        p = tool("report", trace, "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        md = self.check_outputs(out, [
            "event_rate.png", "message_fates.png", "latency_cdf.png", "traffic_heatmap.png",
            "raft_leaders.png", "raft_commit.png", "rqml_residual.png", "rqml_placement.png",
            "membership_views.png", "ping_rtt.png", "exec_metrics.png"])
        self.assertIn("Skipped plots\n\nNone.", md)
        self.assertIn("matches", md)

    def test_report_errors(self):
        """Exit 2 with the file named for each kind of bad input."""
        text = self.path("x.txt")
        with open(text, "w") as f:
            f.write("not hdf5\n")
        plain = self.path("plain.h5")
        with h5py.File(plain, "w") as f:
            f["events"] = np.arange(3)
        cases = [(self.path("missing.h5"), self.path("o1"), "no such file"),
                 (text, self.path("o2"), "not an HDF5 file"),
                 (plain, self.path("o3"), "not an Aureon trace"),
                 (SHARED["a"], os.path.join(text, "sub"), "cannot create output directory")]
        for trace, out, msg in cases:
            p = tool("report", trace, "--out", out)
            self.assertEqual(p.returncode, 2, (trace, p.stdout, p.stderr))
            self.assertIn(msg, p.stderr)
        self.assertIn("--out", tool("report", "--help").stdout)


# ---- diff -----------------------------------------------------------------

def event_record_indices(trace):
    """Global record index of every /events row."""
    with at.open_trace(trace) as tr:
        taken = np.zeros(tr.attrs["records"], dtype=bool)
        for t in tr.tables():
            if t != "events":
                taken[tr.read(t)["record"].astype(np.int64)] = True
        return np.flatnonzero(~taken)


class DiffTest(TempDirCase):
    """diff: identical runs, planted divergence, other seed, prefix, errors."""

    def test_same_seed_identical(self):
        """Two runs of one seed are identical, record by record."""
        p = tool("diff", SHARED["a"], SHARED["a2"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        n = at.root_attributes(SHARED["a"])["records"]
        self.assertIn(f"identical ({n} records)", p.stdout)
        q = tool("diff", "--quick", SHARED["a"], SHARED["a2"])
        self.assertEqual(q.returncode, 0)

    def test_planted_divergence(self):
        """Changing one field of one /events row is found at its record index."""
        copy = self.path("planted.h5")
        shutil.copy(SHARED["a"], copy)
        row = 1234
        with h5py.File(copy, "r+") as f:
            d = f["events"]
            r = d[row]
            r["a"] += 1
            d[row] = r
        index = int(event_record_indices(copy)[row])
        p = tool("diff", SHARED["a"], copy)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(f"traces differ at record {index} ", p.stdout)
        self.assertIn("differing fields: a", p.stdout)
        self.assertRegex(p.stdout, rf"A \[.*\] record {index}: event ")

    def test_other_seed_differs(self):
        """Different seeds diverge."""
        p = tool("diff", SHARED["a"], SHARED["b"])
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("traces differ at record", p.stdout)

    def test_prefix(self):
        """A trace cut after K records is reported as ending first."""
        cut = self.path("cut.h5")
        shutil.copy(SHARED["a"], cut)
        k = 3000
        n_events = int(np.searchsorted(event_record_indices(SHARED["a"]), k))
        with h5py.File(cut, "r+") as f:
            for t in f:
                if isinstance(f[t], h5py.Dataset):
                    keep = n_events if t == "events" else int(np.searchsorted(f[t]["record"], k))
                    f[t].resize((keep,))
            f.attrs["records"] = np.uint64(k)
        p = tool("diff", cut, SHARED["a"])
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(f"A ended first; its {k} records are a prefix", p.stdout)
        p = tool("diff", SHARED["a"], cut)
        self.assertIn("B ended first", p.stdout)

    def test_errors(self):
        """Missing file or non-trace: exit 2."""
        p = tool("diff", SHARED["a"], self.path("missing.h5"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("missing.h5: no such file", p.stderr)


# ---- a Raft + KV trace ----------------------------------------------------

class RaftKvTraceTest(TempDirCase):
    """A real trace with a /history model table (skipped while the Raft KV
    scenario is not available)."""

    def setUp(self):
        """Run scenarios/raft-basic.ini, or skip."""
        super().setUp()
        scenario = os.path.join(ROOT, "scenarios", "raft-basic.ini")
        if not os.path.exists(scenario):
            self.skipTest("no scenarios/raft-basic.ini")
        self.trace = self.path("raft.h5")
        try:
            run_sim(scenario, self.trace)
        except RuntimeError as e:
            self.skipTest(f"raft-basic.ini does not run: {e}")
        with at.open_trace(self.trace) as tr:
            if not tr.has("history"):
                self.skipTest("raft-basic.ini writes no /history")

    def test_hash_report_history(self):
        """Model rows hash like the C side; report draws Raft plots from
        events; history exports every operation."""
        with at.open_trace(self.trace) as tr:
            self.assertEqual(at.recompute_trace_hash(tr), tr.attrs["trace_hash"])
            n = tr.rows("history")
        out = self.path("rep")
        p = tool("report", self.trace, "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.getsize(os.path.join(out, "raft_leaders.png")) > 1000)
        p = tool("history", self.trace, "--format", "porcupine")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(json.loads(p.stdout)), n)
        p = tool("history", self.trace, "--format", "edn")
        self.assertEqual(len(edn_lines(p.stdout)), 2 * n)
        self.assertIn("client << 32 | sequence number", p.stdout.splitlines()[1])


# ---- history --------------------------------------------------------------

class HistoryTest(TempDirCase):
    """history: missing table, Porcupine JSON, Jepsen EDN."""

    def test_no_history_table(self):
        """A ping trace has no /history: exit 2 with the promised message."""
        p = tool("history", SHARED["a"], "--format", "porcupine")
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"{SHARED['a']}: no /history table (it arrives with the Raft KV workload)",
                      p.stderr)

    def synthetic(self, dtype=HISTORY_DT, rows=None, events=None):
        """A small trace with a /history table."""
        path = self.path("hist.h5")
        tables = synthetic_tables()
        write_synthetic(path, {"events": tables["events"] if events is None else events,
                               "history": (synthetic_history(dtype, rows), 0, 0)})
        return path

    def test_porcupine(self):
        """JSON operations sorted by call; unknown outcomes return at the end."""
        out = self.path("h.json")
        p = tool("history", self.synthetic(), "--format", "porcupine", "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out) as f:
            ops = json.load(f)

        def op(c, o, k, v, call, ok, val, ret, unknown=False, exp=None, swapped=None):
            """One expected Porcupine operation."""
            return {"client_id": c, "input": {"op": o, "key": k, "value": v, "expected": exp},
                    "call": call, "return": ret,
                    "output": {"ok": ok, "value": val, "swapped": swapped, "unknown": unknown}}
        self.assertEqual(ops, [
            op(1, "put", 5, 10, 100, True, None, 200),
            op(3, "put", 6, 1, 120, False, None, 501, unknown=True),
            op(2, "get", 5, None, 150, True, 10, 250),
            op(1, "cas", 5, 11, 200, True, None, 300, exp=10, swapped=False),
            op(2, "get", 7, None, 260, False, None, 270),
            op(1, "cas", 5, 12, 320, True, None, 350, exp=10, swapped=True),
            op(3, "get", 6, None, 400, True, 0, 500),
        ])

    def test_edn(self):
        """Jepsen op maps: invoke/ok/fail/info, fresh process after an open unknown op."""
        p = tool("history", self.synthetic(), "--format", "edn")
        self.assertEqual(p.returncode, 0, p.stderr)
        want = [
            "{:process 1, :type :invoke, :f :write, :value [5 10], :time 100, :index 0}",
            "{:process 3, :type :invoke, :f :write, :value [6 1], :time 120, :index 1}",
            "{:process 2, :type :invoke, :f :read, :value [5 nil], :time 150, :index 2}",
            "{:process 1, :type :ok, :f :write, :value [5 10], :time 200, :index 3}",
            "{:process 1, :type :invoke, :f :cas, :value [5 [10 11]], :time 200, :index 4}",
            "{:process 2, :type :ok, :f :read, :value [5 10], :time 250, :index 5}",
            "{:process 2, :type :invoke, :f :read, :value [7 nil], :time 260, :index 6}",
            "{:process 2, :type :fail, :f :read, :value [7 nil], :time 270, :index 7}",
            "{:process 1, :type :fail, :f :cas, :value [5 [10 11]], :time 300, :index 8}",
            "{:process 1, :type :invoke, :f :cas, :value [5 [10 12]], :time 320, :index 9}",
            "{:process 1, :type :ok, :f :cas, :value [5 [10 12]], :time 350, :index 10}",
            "{:process 7, :type :invoke, :f :read, :value [6 nil], :time 400, :index 11}",
            "{:process 7, :type :ok, :f :read, :value [6 0], :time 500, :index 12}",
            "{:process 3, :type :info, :f :write, :value [6 1], :time 501, :index 13}",
        ]
        self.assertEqual(edn_lines(p.stdout), want)

    def test_without_cas_columns(self):
        """Without expected/cas_ok a cas is exported with its new value only."""
        dt = np.dtype([(n, HISTORY_DT[n]) for n in HISTORY_DT.names
                       if n not in ("expected", "cas_ok")])
        trace = self.synthetic(dt)
        p = tool("history", trace, "--format", "edn")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("{:process 1, :type :ok, :f :cas, :value [5 11], :time 300, :index 8}",
                      edn_lines(p.stdout))
        p = tool("history", trace, "--format", "porcupine")
        cas = [o for o in json.loads(p.stdout) if o["input"]["op"] == "cas"]
        self.assertEqual([o["input"]["expected"] for o in cas], [None, None])
        self.assertEqual([o["output"]["swapped"] for o in cas], [None, None])

    def test_missing_columns(self):
        """A /history without the needed columns is an error naming them."""
        dt = np.dtype([(n, HISTORY_DT[n]) for n in HISTORY_DT.names if n != "call_ns"])
        p = tool("history", self.synthetic(dt), "--format", "edn")
        self.assertEqual(p.returncode, 2)
        self.assertIn("lacks column(s) call_ns", p.stderr)

    def test_run_that_did_not_end_is_refused(self):
        """Without RUN_END as the last event the in-flight operations may be
        missing: exit 2 and say why, rather than export a history a checker
        could misjudge."""
        events = synthetic_tables()["events"]
        events = events[events["kind"] != 16]
        trace = self.synthetic(events=events)
        for fmt in ("edn", "porcupine"):
            p = tool("history", trace, "--format", fmt)
            self.assertEqual(p.returncode, 2, fmt)
            self.assertIn(f"{trace}: the run did not end (the last /events row is not RUN_END)",
                          p.stderr)
            self.assertIn("missing from /history", p.stderr)
            self.assertEqual(p.stdout, "")
        # without /events ([trace] tables): only a trace that says its
        # result (written by an aureon-sim that ends stopped runs) is trusted
        trace = self.synthetic()
        with h5py.File(trace, "r+") as f:
            del f["events"]
            del f.attrs["scenario"]
            f.attrs["scenario"] = np.bytes_("[run]\nname = synthetic\n[trace]\ntables = history\n")
        p = tool("history", trace, "--format", "edn")
        self.assertEqual(p.returncode, 2)
        self.assertIn("no /events table and no `result` attribute", p.stderr)
        with h5py.File(trace, "r+") as f:
            f.attrs["result"] = np.bytes_("pass")
        p = tool("history", trace, "--format", "edn")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(edn_lines(p.stdout)), 14)

    # The initial value: the store starts every key at 0.
    NIL_ROWS = [  # client, op, key, value, expected, cas_ok, call, return, outcome
        (1, 0, 6, 0, 0, 0, 100, 150, 0),    # get 6 -> 0 (never written)
        (2, 2, 6, 11, 0, 1, 200, 250, 0),   # cas 6: 0 -> 11 swaps (6 still held 0)
        (1, 0, 6, 11, 0, 0, 300, 350, 0),   # get 6 -> 11
        (2, 2, 6, 12, 0, 0, 400, 450, 0),   # cas 6: 0 -> 12 does not swap
        (1, 1, 7, 5, 0, 0, 500, 550, 0),    # put 7=5
    ]

    def test_initial_zero_is_the_default(self):
        """By default values go out as the store holds them (0 included),
        for a register model that starts at 0; the help says so."""
        p = tool("history", self.synthetic(rows=self.NIL_ROWS), "--format", "edn")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = edn_lines(p.stdout)
        self.assertIn("{:process 1, :type :ok, :f :read, :value [6 0], :time 150, :index 1}", lines)
        self.assertIn("{:process 2, :type :ok, :f :cas, :value [6 [0 11]], :time 250, :index 3}",
                      lines)
        self.assertEqual(p.stderr, "")
        self.assertEqual(p.stdout, tool("history", self.synthetic(rows=self.NIL_ROWS), "--format",
                                        "edn", "--initial", "0").stdout)
        h = tool("history", "--help")
        self.assertEqual(h.returncode, 0)
        self.assertIn("--initial", h.stdout)
        self.assertIn("starts every key at 0", " ".join(h.stdout.split()))

    def test_initial_nil_for_knossos(self):
        """--initial nil: 0 becomes nil in reads and cas expectations (a
        cas expecting 0 on a never-written key expects nil and swapped),
        other values are untouched, and stderr counts the reads Knossos
        will no longer check."""
        p = tool("history", self.synthetic(rows=self.NIL_ROWS), "--format", "edn",
                 "--initial", "nil")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(edn_lines(p.stdout), [
            "{:process 1, :type :invoke, :f :read, :value [6 nil], :time 100, :index 0}",
            "{:process 1, :type :ok, :f :read, :value [6 nil], :time 150, :index 1}",
            "{:process 2, :type :invoke, :f :cas, :value [6 [nil 11]], :time 200, :index 2}",
            "{:process 2, :type :ok, :f :cas, :value [6 [nil 11]], :time 250, :index 3}",
            "{:process 1, :type :invoke, :f :read, :value [6 nil], :time 300, :index 4}",
            "{:process 1, :type :ok, :f :read, :value [6 11], :time 350, :index 5}",
            "{:process 2, :type :invoke, :f :cas, :value [6 [nil 12]], :time 400, :index 6}",
            "{:process 2, :type :fail, :f :cas, :value [6 [nil 12]], :time 450, :index 7}",
            "{:process 1, :type :invoke, :f :write, :value [7 5], :time 500, :index 8}",
            "{:process 1, :type :ok, :f :write, :value [7 5], :time 550, :index 9}",
        ])
        self.assertIn("--initial nil: 1 read(s) of the initial value exported as nil", p.stderr)
        self.assertIn("not checked", p.stderr)

    def test_initial_nil_is_edn_only(self):
        """Porcupine models choose their own initial state: nil is refused."""
        p = tool("history", self.synthetic(), "--format", "porcupine", "--initial", "nil")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--initial nil is for --format edn", p.stderr)
        self.assertEqual(p.stdout, "")
        p = tool("history", self.synthetic(), "--format", "edn", "--initial", "null")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--initial", p.stderr)


# ---- a run a violation stopped ------------------------------------------------

STOPPED_SCENARIO = """\
[run]
name = stopped-by-violation
seed = 3
duration = 6s
[cluster]
nodes = 3
services = raft,kv,swim
[network]
latency = uniform(1ms,3ms)
[workload]
kv_clients = 3
kv_rate = 1000/s
[fault.crash]
at = 2s
action = crash
target = n3
[check]
invariants = raft_safety, linearizable_kv
liveness = membership_converged:1ms, leader_within:3s
"""


class StoppedRunTest(TempDirCase):
    """membership_converged fails at 2 s (the views get 1 ms to agree after
    n3 crashes), stopping the run with KV operations in flight: they are in
    /history as unknown, the export carries them, and the trace says which
    checks did not run."""

    def setUp(self):
        """Run the scenario with a trace (exit 1: a check failed)."""
        super().setUp()
        scenario = self.path("stopped.ini")
        with open(scenario, "w", encoding="utf-8") as f:
            f.write(STOPPED_SCENARIO)
        self.trace = self.path("stopped.h5")
        p = subprocess.run([SIM, "run", scenario, "--trace", self.trace, "--json"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.run_json = json.loads(p.stdout)

    def test_in_flight_operations_are_unknown(self):
        """Rows recorded at the stop: one unknown (return -1) per client
        that had an operation open, each client's last row; the hash of the
        file's records is the one printed."""
        v = self.run_json["violation"]
        self.assertEqual(v["check"], "membership_converged")
        stop = v["t_ns"]
        with at.open_trace(self.trace) as tr:
            self.assertEqual(at.recompute_trace_hash(tr), self.run_json["trace_hash"])
            self.assertEqual(tr.attrs["sim_end_ns"], stop)
            ev = tr.read("events")
            self.assertEqual(tr.enum_mapping("events", "kind")[int(ev["kind"][-1])], "RUN_END")
            self.assertEqual(int(ev["t_ns"][-1]), stop)
            h = tr.with_enum_names("history", tr.read("history"))
        at_stop = h[(h["t_ns"] == stop) & (h["record"] > v["record"])]
        self.assertGreaterEqual(len(at_stop), 1)
        self.assertTrue((at_stop["outcome"] == "unknown").all())
        self.assertTrue((at_stop["return_ns"] == -1).all())
        self.assertTrue((at_stop["call_ns"] <= stop).all())
        for row in at_stop:  # the client's last operation
            later = h[(h["client"] == row["client"]) & (h["record"] > row["record"])]
            self.assertEqual(len(later), 0)
        # at most one open operation per client
        self.assertEqual(len(at_stop), len(set(at_stop["client"].tolist())))
        # exports carry them, as unknown / :info
        p = tool("history", self.trace, "--format", "porcupine")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("the run failed (membership_converged", p.stderr)
        ops = json.loads(p.stdout)
        self.assertEqual(len(ops), len(h))
        open_calls = {(int(r["client"]), int(r["call_ns"])) for r in at_stop}
        exported = {(o["client_id"], o["call"]) for o in ops if o["output"]["unknown"]}
        self.assertTrue(open_calls <= exported)
        p = tool("history", self.trace, "--format", "edn")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sum(":type :info" in line for line in p.stdout.splitlines()),
                         int((h["outcome"] == "unknown").sum()))

    def test_trace_and_json_name_checks_not_run(self):
        """--json and the trace's root attributes give the same verdicts."""
        self.assertEqual(self.run_json["checks"]["linearizable_kv"], "not run")
        self.assertEqual(self.run_json["checks"]["membership_converged"], "fail")
        self.assertEqual(self.run_json["checks"]["raft_safety"], "pass")
        self.assertRegex(self.run_json["check_reasons"]["linearizable_kv"],
                         r"^run stopped at t=2\.\d+s by membership_converged$")
        with at.open_trace(self.trace) as tr:
            self.assertEqual(tr.attrs["result"], "fail")
            self.assertTrue(tr.attrs["violation"].startswith("membership_converged at t="))
            attrs = json.loads(tr.attrs["checks"])
        self.assertEqual(attrs["checks"], self.run_json["checks"])
        self.assertEqual(attrs["check_reasons"], self.run_json["check_reasons"])

    def test_same_trace_again(self):
        """Stopped runs are as deterministic as finished ones."""
        scenario = self.path("stopped.ini")
        again = self.path("again.h5")
        p = subprocess.run([SIM, "run", scenario, "--trace", again, "--json"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(json.loads(p.stdout)["trace_hash"], self.run_json["trace_hash"])


# ---- SWIM: report plots and swim_bench -------------------------------------

class SwimTest(TempDirCase):
    """SWIM traces get the view-size, detection and dissemination plots; the
    bench plots come from bench swim --csv."""

    def test_report_on_swim_trace(self):
        trace, out = self.path("swim.h5"), self.path("rep")
        run_sim(os.path.join(ROOT, "scenarios", "swim-basic.ini"), trace)
        p = tool("report", trace, "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        md = ReportTest.check_outputs(self, out, ["swim_views.png", "swim_detection_cdf.png",
                                      "swim_dissemination.png"])
        self.assertIn("SWIM trace: view sizes come from /swim_load", md)
        self.assertNotIn("raft_leaders.png", md)

    def test_swim_bench_plots(self):
        prefix, out = self.path("b"), self.path("plots")
        p = subprocess.run([SIM, "bench", "swim", "--sizes", "16,32", "--trials", "5",
                            "--fp-nodes", "16", "--fp-time", "20s", "--csv", prefix],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = tool("swim_bench", prefix, "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        for png in ("swim-detection.png", "swim-dissemination.png", "swim-false-positives.png"):
            with open(os.path.join(out, png), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", png)
        p = tool("swim_bench", self.path("missing"), "--out", out)
        self.assertEqual(p.returncode, 2)
        self.assertIn("missing-detect.csv", p.stderr)

if __name__ == "__main__":
    unittest.main(verbosity=2)

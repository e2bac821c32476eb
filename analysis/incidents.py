"""incidents — what went wrong in a trace, placed on the time axis: the
fault intervals per node (from /events) and the violation (from the root
attributes).  Shared by analysis/timeline and analysis/report, so every time
plot shows the same bands and the same marker.

fault_spans(tr) -> list of Span(node, kind, start_ns, end_ns, label):
    NODE_CRASH .. NODE_RESTART            "crash"      on the node
    NODE_PAUSE .. NODE_RESUME             "pause"      on the node
    CLOCK_SKEW (non-zero) .. CLOCK_SKEW 0 "skew"       on the node
    DISK_FAULT_START .. DISK_FAULT_END    "disk"       on the node
    PARTITION_START .. PARTITION_END/HEAL "partition"  node 0 (the network)
    LINK_FAULT_START .. LINK_FAULT_END/HEAL "link"     node 0 (the network)
  An interval still open when the run ended ends at sim_end_ns.

violation(tr) -> dict or None: the root attribute violation_json (written by
aureon-sim run --trace): check, t_ns, node, record, detail, judged_ns and
window (first_ns, last_ns, ops, first_record, last_record, lines) or None.
For traces written before violation_json existed, a failing run gives a
dict with check and detail only (t_ns None).

OKABE_ITO: the colour-blind-safe palette of Okabe & Ito (2008), in the
order used for series; KIND_COLOUR maps fault kinds to it.
"""

import json
from collections import namedtuple

import numpy as np

Span = namedtuple("Span", "node kind start_ns end_ns label")

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000"]
# Fault kinds take the palette entries the KV operations (blue, orange,
# green) do not, so a band never looks like an operation.
KIND_COLOUR = {"crash": "#D55E00", "pause": "#CC79A7", "skew": "#000000", "disk": "#56B4E9",
               "partition": "#F0E442", "link": "#999999"}
KIND_COLOUR_NAME = {"crash": "vermillion", "pause": "purple", "skew": "grey",
                    "disk": "sky blue", "partition": "yellow", "link": "light grey"}
VIOLATION_COLOUR = "#D00000"  # the violating window: a red no palette entry uses


def _names(tr):
    m = tr.enum_mapping("events", "kind") or {}
    return {n: v for v, n in m.items()}


def fault_spans(tr):
    """Fault intervals of the run, in start order."""
    if not tr.has("events"):
        return []
    by = _names(tr)
    want = [by.get(k, -1) for k in ("NODE_CRASH", "NODE_RESTART", "NODE_PAUSE", "NODE_RESUME",
                                    "CLOCK_SKEW", "DISK_FAULT_START", "DISK_FAULT_END",
                                    "PARTITION_START", "PARTITION_END", "HEAL",
                                    "LINK_FAULT_START", "LINK_FAULT_END")]
    (CRASH, RESTART, PAUSE, RESUME, SKEW, DSTART, DEND, PSTART, PEND, HEAL, LSTART, LEND) = want
    end = int(tr.attrs.get("sim_end_ns", 0))
    spans, open_ = [], {}

    def close(key, t):
        if key in open_:
            node, kind, t0, label = open_.pop(key)
            spans.append(Span(node, kind, t0, max(t, t0), label))

    kinds = np.array([k for k in want if k >= 0], dtype=np.int64)
    for chunk in tr.iter_chunks("events"):
        sel = chunk[np.isin(chunk["kind"], kinds)]
        for r in sel:
            k, n, t = int(r["kind"]), int(r["node"]), int(r["t_ns"])
            a, b = int(r["a"]), int(r["b"])
            if k == CRASH:
                open_[("crash", n)] = (n, "crash", t, f"crash n{n}")
            elif k == RESTART:
                close(("crash", n), t)
            elif k == PAUSE:
                open_[("pause", n)] = (n, "pause", t, f"pause n{n}")
            elif k == RESUME:
                close(("pause", n), t)
            elif k == SKEW:
                close(("skew", n), t)
                if a or b:
                    open_[("skew", n)] = (n, "skew", t, f"skew n{n} {a / 1e6:+.0f} ms {b:+d} ppm")
            elif k == DSTART:
                open_[("disk", a)] = (n, "disk", t, f"disk fault n{n}")
            elif k == DEND:
                close(("disk", a), t)
            elif k == PSTART:
                open_[("partition", a)] = (0, "partition", t, "partition" + (" (one-way)" if
                                                                             int(r["c"]) else ""))
            elif k == PEND:
                close(("partition", a), t)
            elif k == LSTART:
                open_[("link", a)] = (0, "link", t, "link fault")
            elif k == LEND:
                close(("link", a), t)
            elif k == HEAL:
                for key in [key for key in open_ if key[0] in ("partition", "link")]:
                    close(key, t)
    for key in list(open_):
        close(key, end)
    spans.sort(key=lambda s: (s.start_ns, s.node, s.kind))
    return spans


def violation(tr):
    """The run's violation as a dict, or None if it passed."""
    raw = tr.attrs.get("violation_json")
    if raw:
        try:
            return json.loads(raw)
        except ValueError:
            pass
    if tr.attrs.get("result") == "fail":
        line = str(tr.attrs.get("violation", ""))
        return {"check": line.split(" ", 1)[0] if line else "?", "detail": line, "t_ns": None,
                "node": 0, "window": None}
    return None


def shade(ax, spans, violation_, scale=1e-9, nodes=None, legend=True):
    """Fault intervals as shaded bands and the violation as a marker (a
    vertical line, and its window shaded red) on a matplotlib time axis in
    seconds (scale converts ns).  nodes: only the spans of these nodes (the
    network's, node 0, always)."""
    seen = set()
    for s in spans:
        if nodes is not None and s.node and s.node not in nodes:
            continue
        lab = s.kind if legend and s.kind not in seen else None
        seen.add(s.kind)
        ax.axvspan(s.start_ns * scale, s.end_ns * scale, color=KIND_COLOUR.get(s.kind, "0.8"),
                   alpha=0.18, lw=0, label=lab, zorder=0)
    v = violation_
    if v and v.get("t_ns") is not None:
        w = v.get("window")
        if w:
            ax.axvspan(w["first_ns"] * scale, w["last_ns"] * scale, color=VIOLATION_COLOUR,
                       alpha=0.25, lw=0, zorder=0.5)
        ax.axvline(v["t_ns"] * scale, color=VIOLATION_COLOUR, lw=1.2, ls="--", zorder=5,
                   label=f"violation: {v['check']}" if legend else None)

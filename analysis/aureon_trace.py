#!/usr/bin/python3
"""aureon_trace — read Aureon HDF5 trace files with h5py and numpy.

An Aureon trace (written by `aureon-sim run ... --trace FILE`) holds:

* root attributes: seed, scenario, scenario_name, aureon_version, services,
  nodes, message_sample, trace_hash, sim_end_ns, events, records;
* /events: engine and model events (t_ns, node, kind, a, b, c);
* /messages: one row per message fate (record, send_ns, recv_ns, src, dst,
  type, bytes, fate), possibly sampled 1 in K;
* model tables such as /ping or /raft: record, t_ns, node, then model columns.

Every trace record has a global index.  Messages and model rows carry it in
their `record` column; /events rows have none and fill the remaining indices
in order.  `iter_record_windows` rebuilds that global order in bounded
memory, `recompute_trace_hash` re-derives the SHA-256 trace hash from it.

Tables are read as numpy structured arrays whose enum columns are plain
unsigned integers; `enum_mapping` and `with_enum_names` turn them into names.
pandas is optional: `to_dataframe` imports it only when called.

Typical use::

    import aureon_trace as at
    with at.open_trace("run.h5") as tr:
        print(tr.attrs["trace_hash"], tr.tables())
        ev = tr.read("events", 0, 1000)
        for chunk in tr.iter_chunks("messages"):
            ...
        assert at.recompute_trace_hash(tr) == tr.attrs["trace_hash"]
"""

import configparser
import hashlib
import os
import sys

import h5py
import numpy as np

__all__ = [
    "TraceError", "HashUnavailable", "Trace", "RecordWindow", "open_trace",
    "list_tables", "load_table", "iter_table", "enum_mapping", "with_enum_names",
    "root_attributes", "to_dataframe", "record_layout", "iter_record_windows",
    "record_serializer", "serialize_window", "recompute_trace_hash",
    "DEFAULT_CHUNK_ROWS",
]

DEFAULT_CHUNK_ROWS = 1 << 20   # rows per read when streaming a table
DEFAULT_WINDOW = 1 << 20       # global records per window of iter_record_windows
ENGINE_TABLES = ("events", "messages")
ROW_HEAD = ("record", "t_ns", "node")  # first columns of every model table


class TraceError(Exception):
    """A trace file cannot be opened or used; the message names the file."""


class HashUnavailable(TraceError):
    """The global record order (and so the trace hash) cannot be rebuilt
    from this file: messages were sampled or some table was not written."""


def _decode(value):
    """Turn an HDF5 attribute value into a plain Python value."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return [_decode(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _plain_dtype(dtype):
    """The same structured layout as dtype, with enum metadata removed so
    enum columns are ordinary unsigned integers."""
    fields = sorted(dtype.fields.items(), key=lambda kv: kv[1][1])
    return np.dtype({
        "names": [name for name, _ in fields],
        "formats": [np.dtype(f[0].str) for _, f in fields],
        "offsets": [f[1] for _, f in fields],
        "itemsize": dtype.itemsize,
    })


def _trace_tables_option(scenario_text):
    """The [trace] tables list of a scenario text, or None when absent."""
    cp = configparser.ConfigParser(interpolation=None, strict=False,
                                   comment_prefixes=("#", ";"),
                                   inline_comment_prefixes=None)
    try:
        cp.read_string(scenario_text)
        value = cp.get("trace", "tables", fallback=None)
    except configparser.Error:
        return None
    if value is None:
        return None
    return [t.strip() for t in value.split(",") if t.strip()]


class Trace:
    """An open Aureon trace file.  Use as a context manager or call close().

    `check=True` (the default) rejects files that are not complete Aureon
    traces with a TraceError that names the file."""

    def __init__(self, path, check=True):
        """Open path read-only; raise TraceError with a clear message."""
        self.path = str(path)
        if not os.path.exists(self.path):
            raise TraceError(f"{self.path}: no such file")
        if os.path.isdir(self.path):
            raise TraceError(f"{self.path}: is a directory, not a trace file")
        if not os.access(self.path, os.R_OK):
            raise TraceError(f"{self.path}: not readable")
        try:
            is_h5 = h5py.is_hdf5(self.path)
        except OSError as e:
            raise TraceError(f"{self.path}: cannot read: {e}") from None
        if not is_h5:
            raise TraceError(f"{self.path}: not an HDF5 file")
        try:
            self.file = h5py.File(self.path, "r")
        except OSError as e:
            raise TraceError(f"{self.path}: cannot open as HDF5: {e}") from None
        self.attrs = {k: _decode(v) for k, v in self.file.attrs.items()}
        if check:
            try:
                self._check_aureon()
            except TraceError:
                self.close()
                raise

    def _check_aureon(self):
        """Raise TraceError unless this looks like a finished Aureon trace."""
        has_events = self.has("events")
        if "trace_hash" not in self.attrs:
            if "aureon_version" in self.attrs:
                raise TraceError(f"{self.path}: incomplete Aureon trace: no trace_hash "
                                 "attribute (the run did not finish writing it)")
            raise TraceError(f"{self.path}: not an Aureon trace (no trace_hash attribute)")
        if not has_events:
            wanted = _trace_tables_option(str(self.attrs.get("scenario", "")))
            if wanted is None or "events" in wanted:
                raise TraceError(f"{self.path}: not an Aureon trace (no /events dataset)")

    # -- lifecycle ---------------------------------------------------------
    def close(self):
        """Close the HDF5 file."""
        f = getattr(self, "file", None)
        if f is not None:
            f.close()
            self.file = None

    def __enter__(self):
        """Context manager entry: the trace itself."""
        return self

    def __exit__(self, *exc):
        """Context manager exit: close the file."""
        self.close()

    # -- structure ---------------------------------------------------------
    def has(self, name):
        """True if the trace holds a dataset (table) of that name."""
        return self.file.get(name.lstrip("/"), getclass=True) is h5py.Dataset

    def _dset(self, name):
        """The h5py dataset of a table, or TraceError naming the file."""
        name = name.lstrip("/")
        if not self.has(name):
            raise TraceError(f"{self.path}: no /{name} table")
        return self.file[name]

    def tables(self):
        """Table (dataset) names: events, messages, then model tables in
        service and table order, then anything else.  Named types
        (kind_t, fate_t, message_type_t) are not tables."""
        names = [k for k in self.file.keys() if self.has(k)]

        def order(n):
            """Sort key: engine tables, then model tables by index."""
            if n in ENGINE_TABLES:
                return (0, ENGINE_TABLES.index(n), 0, n)
            a = self.file[n].attrs
            if "service_index" in a and "table_index" in a:
                return (1, int(a["service_index"]), int(a["table_index"]), n)
            return (2, 0, 0, n)
        return sorted(names, key=order)

    def model_tables(self):
        """Model tables (those with service_index/table_index attributes)."""
        return [n for n in self.tables() if n not in ENGINE_TABLES and
                "service_index" in self.file[n].attrs and "table_index" in self.file[n].attrs]

    def rows(self, name):
        """Number of rows of a table."""
        return int(self._dset(name).shape[0])

    def table_attrs(self, name):
        """Attributes of a table (help, service_index, table_index) as a dict."""
        return {k: _decode(v) for k, v in self._dset(name).attrs.items()}

    def dtype(self, name):
        """The h5py dtype of a table, enum metadata included."""
        return self._dset(name).dtype

    def plain_dtype(self, name):
        """The numpy dtype read() returns: enum columns as plain integers."""
        return _plain_dtype(self._dset(name).dtype)

    def services(self):
        """Service names in service-index order (from the services attribute)."""
        s = str(self.attrs.get("services", ""))
        return [x for x in s.split(",") if x] if s else []

    # -- reading -----------------------------------------------------------
    def read(self, name, start=0, stop=None):
        """Rows [start, stop) of a table as a numpy structured array.

        The bytes are copied straight from the file (no HDF5 type
        conversion), so enum values outside their enum, such as corrupted
        message type bytes, come through unchanged."""
        d = self._dset(name)
        n = d.shape[0]
        start, stop, _ = slice(start, stop).indices(n)
        count = max(0, stop - start)
        dt = _plain_dtype(d.dtype)
        out = np.empty(count, dtype=dt)
        if count == 0:
            return out
        ftype = d.id.get_type()
        little = all(np.dtype(f[0]).byteorder in "<|=" for f in dt.fields.values())
        if ftype.get_size() == dt.itemsize and little and sys.byteorder == "little":
            mspace = h5py.h5s.create_simple((count,))
            fspace = d.id.get_space()
            fspace.select_hyperslab((start,), (count,))
            d.id.read(mspace, fspace, out, mtype=ftype)
        else:  # unusual layout: let h5py convert
            out[...] = d[start:stop].astype(dt)
        return out

    def iter_chunks(self, name, chunk_rows=DEFAULT_CHUNK_ROWS, start=0, stop=None):
        """Yield consecutive row blocks of a table (at most chunk_rows each)
        so huge tables can be processed in bounded memory."""
        n = self.rows(name)
        start, stop, _ = slice(start, stop).indices(n)
        for lo in range(start, stop, chunk_rows):
            yield self.read(name, lo, min(lo + chunk_rows, stop))

    # -- enums -------------------------------------------------------------
    def enum_mapping(self, name, column):
        """{value: name} of an enum column, or None if it is not an enum."""
        dt = self.dtype(name)
        if column not in dt.names:
            raise TraceError(f"{self.path}: /{name} has no column {column!r}")
        m = h5py.check_enum_dtype(dt[column])
        if m is None:
            return None
        return {int(v): str(k) for k, v in m.items()}

    def enum_columns(self, name):
        """Names of the enum columns of a table."""
        dt = self.dtype(name)
        return [c for c in dt.names if h5py.check_enum_dtype(dt[c]) is not None]

    def value_names(self, name, column, values):
        """Names of the given enum values as a numpy unicode array.

        Values outside the enum become "?N"; message types outside the
        enum become "service.N" (service from the type's high byte)."""
        values = np.asarray(values)
        mapping = self.enum_mapping(name, column) or {}
        uniq, inv = np.unique(values, return_inverse=True)
        services = self.services()
        labels = []
        for v in uniq.tolist():
            if v in mapping:
                labels.append(mapping[v])
            elif name == "messages" and column == "type" and (v >> 8) < len(services):
                labels.append(f"{services[v >> 8]}.{v & 0xff}")
            else:
                labels.append(f"?{v}")
        if not labels:
            return np.array([], dtype="U1")
        return np.array(labels)[inv].reshape(values.shape)

    def with_enum_names(self, name, array):
        """A copy of a structured array from table `name` with every enum
        column replaced by a unicode column of names."""
        enums = set(self.enum_columns(name))
        fields = []
        cols = {}
        for c in array.dtype.names:
            if c in enums:
                cols[c] = self.value_names(name, c, array[c])
                fields.append((c, cols[c].dtype if len(array) else "U1"))
            else:
                fields.append((c, array.dtype[c]))
        out = np.empty(array.shape, dtype=fields)
        for c in array.dtype.names:
            out[c] = cols[c] if c in cols else array[c]
        return out

    def to_dataframe(self, name, start=0, stop=None, names=True):
        """Rows of a table as a pandas DataFrame (needs pandas)."""
        arr = self.read(name, start, stop)
        if names:
            arr = self.with_enum_names(name, arr)
        return to_dataframe(arr)


# ---- functional API ----------------------------------------------------

def open_trace(path, check=True):
    """Open an Aureon trace; raises TraceError with a message naming the file."""
    return Trace(path, check=check)


class _Opened:
    """Context manager: use a Trace as is, or open (and later close) a path."""

    def __init__(self, trace):
        """Remember a Trace or a path."""
        self.given = trace
        self.trace = None

    def __enter__(self):
        """The Trace to use."""
        if isinstance(self.given, Trace):
            return self.given
        self.trace = Trace(self.given)
        return self.trace

    def __exit__(self, *exc):
        """Close the trace if it was opened here."""
        if self.trace is not None:
            self.trace.close()


def list_tables(trace):
    """Table names of a trace (a Trace or a path)."""
    with _Opened(trace) as tr:
        return tr.tables()


def root_attributes(trace):
    """Root attributes of a trace as a dict of plain Python values."""
    with _Opened(trace) as tr:
        return dict(tr.attrs)


def load_table(trace, name, start=0, stop=None, names=False):
    """Rows [start, stop) of a table as a numpy structured array; with
    names=True, enum columns become strings."""
    with _Opened(trace) as tr:
        arr = tr.read(name, start, stop)
        return tr.with_enum_names(name, arr) if names else arr


def iter_table(trace, name, chunk_rows=DEFAULT_CHUNK_ROWS, names=False):
    """Yield a table in blocks of chunk_rows rows (bounded memory)."""
    with _Opened(trace) as tr:
        for chunk in tr.iter_chunks(name, chunk_rows):
            yield tr.with_enum_names(name, chunk) if names else chunk


def enum_mapping(trace, name, column):
    """{value: name} of an enum column of a table, or None."""
    with _Opened(trace) as tr:
        return tr.enum_mapping(name, column)


def with_enum_names(trace, name, array):
    """A copy of `array` (rows of table `name`) with enum columns as names."""
    with _Opened(trace) as tr:
        return tr.with_enum_names(name, array)


def to_dataframe(table, trace=None, names=True):
    """A pandas DataFrame of a structured array (pass one from
    with_enum_names() for named enums), or of table `table` of `trace` when
    table is a name (enum columns as names unless names=False).  pandas is
    imported only here; without it an ImportError explains what to do."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            "to_dataframe() needs pandas, which is not installed "
            "(Debian: apt-get install python3-pandas); the numpy structured "
            "arrays from load_table()/Trace.read() work without it") from None
    if isinstance(table, str):
        if trace is None:
            raise TypeError("to_dataframe(name) needs trace=")
        with _Opened(trace) as tr:
            return tr.to_dataframe(table, names=names)
    return pd.DataFrame.from_records(table)


# ---- global record order -----------------------------------------------

def record_layout(trace):
    """Whether the global record order can be rebuilt from this file.

    Returns a dict: complete (bool), reason (str, empty when complete),
    records (the records attribute), rows ({table: rows counted as
    records}), tables (record-bearing tables in order)."""
    with _Opened(trace) as tr:
        a = tr.attrs
        sample = int(a.get("message_sample", 1))
        tables = [t for t in ("events",) if tr.has(t)]
        if sample == 1 and tr.has("messages"):
            tables.append("messages")
        tables += tr.model_tables()
        rows = {t: tr.rows(t) for t in tables}
        info = {"complete": False, "reason": "", "records": a.get("records"),
                "rows": rows, "tables": tables}
        if "records" not in a:
            info["reason"] = f"{tr.path}: no records attribute (unfinished trace)"
        elif sample > 1:
            info["reason"] = (f"{tr.path}: messages are sampled 1 in {sample} "
                              "(message_sample), so unsampled message records are missing")
        elif sum(rows.values()) != int(a["records"]):
            missing = []
            opt = _trace_tables_option(str(a.get("scenario", "")))
            if sample == 1 and not tr.has("messages"):
                missing.append("messages")
            if not tr.has("events"):
                missing.append("events")
            hint = f" ([trace] tables = {', '.join(opt)} left some out" + \
                (f": {', '.join(missing)}" if missing else "") + ")" if opt is not None else ""
            info["reason"] = (f"{tr.path}: the file holds {sum(rows.values())} record rows "
                              f"but records = {a['records']}{hint}")
        else:
            info["complete"] = True
        return info


class _RowStream:
    """Reads one record-bearing table in file order, chunk by chunk, and
    hands out rows by global record index (tables with a record column) or
    by count (/events)."""

    def __init__(self, trace, name, chunk_rows):
        """Start at the first row of table `name`."""
        self.trace, self.name, self.chunk_rows = trace, name, chunk_rows
        self.step = min(chunk_rows, 1 << 16)  # reads grow from 64K rows to chunk_rows
        self.n = trace.rows(name) if trace.has(name) else 0
        self.next_row = 0
        self.buf = None
        self.pos = 0
        self.last_record = -1

    def _fill(self):
        """Read the next chunk once the buffer is used up; False at the end."""
        if self.buf is not None and self.pos < len(self.buf):
            return True
        if self.next_row >= self.n:
            return False
        hi = min(self.n, self.next_row + self.step)
        self.step = min(self.chunk_rows, self.step * 2)
        self.buf = self.trace.read(self.name, self.next_row, hi)
        self.pos = 0
        self.next_row = hi
        if "record" in self.buf.dtype.names and len(self.buf):
            rec = self.buf["record"].astype(np.int64)
            if rec[0] <= self.last_record or (len(rec) > 1 and np.any(np.diff(rec) <= 0)):
                raise TraceError(f"{self.trace.path}: /{self.name} record column is not "
                                 "strictly increasing")
            self.last_record = int(rec[-1])
        return True

    def take_before(self, hi):
        """All remaining rows whose record index is below hi."""
        parts = []
        while self._fill():
            rec = self.buf["record"][self.pos:]
            k = int(np.searchsorted(rec, hi, side="left"))
            parts.append(self.buf[self.pos:self.pos + k])
            self.pos += k
            if self.pos < len(self.buf):
                break
        return self._join(parts)

    def take(self, count):
        """The next `count` rows (fewer only at the end of the table)."""
        parts = []
        while count > 0 and self._fill():
            k = min(count, len(self.buf) - self.pos)
            parts.append(self.buf[self.pos:self.pos + k])
            self.pos += k
            count -= k
        return self._join(parts)

    def _join(self, parts):
        """Concatenate row blocks (an empty array of the right dtype if none)."""
        if not parts:
            return np.empty(0, dtype=self.trace.plain_dtype(self.name)) \
                if self.trace.has(self.name) else np.empty(0)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def exhausted(self):
        """True once every row has been handed out."""
        return not self._fill()


class RecordWindow:
    """Global records [lo, hi) of a trace.

    parts: list of (table, positions, rows) where positions are indices
    relative to lo (sorted) and rows the matching table rows."""

    def __init__(self, lo, hi, parts):
        """Hold one window of records."""
        self.lo, self.hi, self.parts = lo, hi, parts

    def locate(self, index):
        """(table, row) of global record `index` in this window."""
        p = index - self.lo
        for name, pos, rows in self.parts:
            k = int(np.searchsorted(pos, p))
            if k < len(pos) and pos[k] == p:
                return name, rows[k]
        raise IndexError(index)


def iter_record_windows(trace, window=DEFAULT_WINDOW, chunk_rows=DEFAULT_CHUNK_ROWS):
    """Yield RecordWindow objects covering every trace record in global
    order, up to `window` records at a time (the first windows are smaller,
    so an early difference is found without reading much).  Raises
    HashUnavailable if the file does not hold every record (see
    record_layout)."""
    with _Opened(trace) as tr:
        info = record_layout(tr)
        if not info["complete"]:
            raise HashUnavailable(info["reason"])
        total = int(info["records"])
        others = [(t, _RowStream(tr, t, chunk_rows)) for t in info["tables"] if t != "events"]
        events = _RowStream(tr, "events", chunk_rows)
        lo, size = 0, min(window, 1 << 16)
        while lo < total:
            hi = min(lo + size, total)
            size = min(window, size * 2)
            occupied = np.zeros(hi - lo, dtype=bool)
            parts = []
            n_other = 0
            for name, st in others:
                rows = st.take_before(hi)
                pos = rows["record"].astype(np.int64) - lo
                if len(pos) and pos[0] < 0:
                    raise TraceError(f"{tr.path}: /{name} record indices overlap")
                occupied[pos] = True
                n_other += len(pos)
                parts.append((name, pos, rows))
            if int(occupied.sum()) != n_other:
                raise TraceError(f"{tr.path}: two tables claim the same record index "
                                 f"in records {lo}..{hi - 1}")
            ev_pos = np.flatnonzero(~occupied)
            ev = events.take(len(ev_pos))
            if len(ev) != len(ev_pos):
                raise TraceError(f"{tr.path}: /events ran out at record {lo + len(ev)}")
            parts.insert(0, ("events", ev_pos, ev))
            yield RecordWindow(lo, hi, parts)
            lo = hi
        leftovers = [n for n, st in others + [("events", events)] if not st.exhausted()]
        if leftovers:
            raise TraceError(f"{tr.path}: rows past the last record in "
                             + ", ".join("/" + n for n in leftovers))


# ---- canonical record bytes (the hashed serialisation) -----------------

_EVENT_DT = np.dtype([("tag", "u1"), ("t_ns", "<i8"), ("node", "<u4"), ("kind", "<u2"),
                      ("a", "<i8"), ("b", "<i8"), ("c", "<i8")])          # 39 bytes
_MESSAGE_DT = np.dtype([("tag", "u1"), ("send_ns", "<i8"), ("recv_ns", "<i8"),
                        ("src", "<u4"), ("dst", "<u4"), ("service", "u1"), ("type", "u1"),
                        ("bytes", "<u4"), ("fate", "u1")])                 # 32 bytes


def record_serializer(trace, name):
    """A function rows -> uint8 matrix (rows, width) giving each row of
    table `name` as its hashed trace record, plus that width.

    event:  'E' t_ns node kind a b c
    message:'M' send_ns recv_ns src dst service type bytes fate
    row:    'T' service_index table_index t_ns node columns...
    all little-endian, packed."""
    if name == "events":
        def ser(rows):
            """/events rows as 'E' records."""
            out = np.empty(len(rows), dtype=_EVENT_DT)
            out["tag"] = ord("E")
            for f in ("t_ns", "node", "kind", "a", "b", "c"):
                out[f] = rows[f]
            return out.view(np.uint8).reshape(len(rows), _EVENT_DT.itemsize)
        return ser, _EVENT_DT.itemsize
    if name == "messages":
        def ser(rows):
            """/messages rows as 'M' records."""
            out = np.empty(len(rows), dtype=_MESSAGE_DT)
            out["tag"] = ord("M")
            for f in ("send_ns", "recv_ns", "src", "dst", "bytes", "fate"):
                out[f] = rows[f]
            t = rows["type"].astype(np.uint16)
            out["service"] = t >> 8
            out["type"] = t & 0xff
            return out.view(np.uint8).reshape(len(rows), _MESSAGE_DT.itemsize)
        return ser, _MESSAGE_DT.itemsize
    attrs = trace.table_attrs(name)
    svc, tbl = int(attrs["service_index"]), int(attrs["table_index"])
    dt = trace.plain_dtype(name)
    cols = [c for c in sorted(dt.names, key=lambda c: dt.fields[c][1]) if c not in ROW_HEAD]
    for c in cols:
        if dt[c].itemsize not in (1, 4, 8):
            raise TraceError(f"{trace.path}: /{name} column {c} has an unexpected size")
    fields = [("tag", "u1"), ("svc", "u1"), ("tbl", "u1"), ("t_ns", "<i8"), ("node", "<u4")]
    fields += [("c_" + c, f"<u{dt[c].itemsize}") for c in cols]
    row_dt = np.dtype(fields)

    def ser(rows):
        """Model table rows as 'T' records."""
        out = np.empty(len(rows), dtype=row_dt)
        out["tag"] = ord("T")
        out["svc"] = svc
        out["tbl"] = tbl
        out["t_ns"] = rows["t_ns"]
        out["node"] = rows["node"]
        for c in cols:  # raw bytes: f64 bit patterns are kept exactly
            out["c_" + c] = rows[c].view(f"<u{dt[c].itemsize}")
        return out.view(np.uint8).reshape(len(rows), row_dt.itemsize)
    return ser, row_dt.itemsize


def serialize_window(win, serializers, width):
    """The records of a window as (matrix, sizes): matrix is uint8
    (hi-lo, width), each row a record's hashed bytes zero-padded; sizes the
    true length of each record."""
    n = win.hi - win.lo
    mat = np.zeros((n, width), dtype=np.uint8)
    sizes = np.zeros(n, dtype=np.int64)
    for name, pos, rows in win.parts:
        if not len(pos):
            continue
        ser, w = serializers[name]
        mat[pos, :w] = ser(rows)
        sizes[pos] = w
    return mat, sizes


def recompute_trace_hash(trace, window=DEFAULT_WINDOW):
    """Recompute the SHA-256 trace hash (hex) from the file's records.

    Raises HashUnavailable when the file does not hold every record
    (messages sampled, or a table left out by the [trace] tables option)."""
    with _Opened(trace) as tr:
        info = record_layout(tr)
        if not info["complete"]:
            raise HashUnavailable(info["reason"])
        serializers = {t: record_serializer(tr, t) for t in info["tables"]}
        width = max([w for _, w in serializers.values()] + [1])
        sha = hashlib.sha256()
        for win in iter_record_windows(tr, window):
            mat, sizes = serialize_window(win, serializers, width)
            keep = np.arange(width)[None, :] < sizes[:, None]
            sha.update(np.ascontiguousarray(mat[keep]))  # row-major: records in order
        return sha.hexdigest()


def _main(argv):
    """`aureon_trace.py TRACE`: print tables and check the hash."""
    import argparse
    ap = argparse.ArgumentParser(description="Show the tables of an Aureon trace and "
                                 "check its trace hash.")
    ap.add_argument("trace")
    args = ap.parse_args(argv)
    try:
        with open_trace(args.trace) as tr:
            for k, v in tr.attrs.items():
                if k != "scenario":
                    print(f"{k} = {v}")
            for t in tr.tables():
                print(f"/{t}: {tr.rows(t)} rows  {tr.plain_dtype(t).names}")
            try:
                h = recompute_trace_hash(tr)
                print("hash", "ok" if h == tr.attrs["trace_hash"] else f"MISMATCH {h}")
            except HashUnavailable as e:
                print(f"hash not recomputable: {e}")
    except TraceError as e:
        print(e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

#!/usr/bin/env python3
"""Generate node/src/commands/table_data.rs from a running redis-server.

Usage:
  scripts/gen_command_table.py [--port 6490]                JSON dump on stdout
  scripts/gen_command_table.py [--port 6490] --rust         table_data.rs on stdout
  scripts/gen_command_table.py [--port 6490] --write FILE   write table_data.rs to FILE, whole

  Options: --names FILE   the list of command names (default: scripts/commands.txt)

To regenerate the table:
  redis-server --port 6490 --save '' --appendonly no --daemonize yes
  scripts/gen_command_table.py --write node/src/commands/table_data.rs
  redis-cli -p 6490 shutdown nosave

The command names come from one list, scripts/commands.txt: one name per
line, subcommands as "parent|sub", "#" starts a comment. The output file is
generated whole (header included) and must never be edited by hand; the types
it uses are hand-written in node/src/commands/table.rs.

Talks RESP3 to a local redis-server (started by the caller); it downloads
nothing. Only COMMAND INFO, COMMAND DOCS and INFO server are queried.
"""
import argparse
import json
import os
import socket
import sys

DEFAULT_NAMES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "commands.txt")


def read_names(path):
    """Top-level commands and "parent|sub" subcommands of the names file, in order."""
    top, subs, seen = [], [], set()
    with open(path) as f:
        for no, line in enumerate(f, 1):
            name = line.split("#", 1)[0].strip()
            if not name:
                continue
            where = "%s:%d" % (path, no)
            if name != name.lower() or len(name.split()) != 1 or name.count("|") > 1:
                raise SystemExit("%s: bad command name %r" % (where, name))
            if name in seen:
                raise SystemExit("%s: %s listed twice" % (where, name))
            seen.add(name)
            if "|" in name:
                if name.split("|")[0] not in top:
                    raise SystemExit("%s: %s listed before (or without) its parent" % (where, name))
                subs.append(name)
            else:
                top.append(name)
    return top, subs


class Resp3:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
        self.call("HELLO", "3")

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+",):
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"_":
            return None
        if t == b"#":
            return rest == b"t"
        if t in (b"$", b"=", b"!"):
            n = int(rest)
            if n < 0:
                return None
            data = self._exact(n).decode()
            if t == b"=":
                data = data[4:]
            if t == b"!":
                raise RuntimeError(data)
            return data
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            return [self.read() for _ in range(n)]
        if t == b"%":
            n = int(rest)
            out = {}
            for _ in range(n):
                k = self.read()
                out[k] = self.read()
            return out
        if t == b",":
            return float(rest)
        raise RuntimeError("unknown RESP3 type %r" % line)

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.read()


def info_to_dict(e):
    # [name, arity, flags, first, last, step, acl, tips, key_specs, subcommands]
    return {
        "name": e[0],
        "arity": e[1],
        "flags": list(e[2]),
        "first_key": e[3],
        "last_key": e[4],
        "step": e[5],
        "acl_categories": list(e[6]),
        "tips": list(e[7]),
        "key_specs": e[8],
        "subcommands": {s[0]: info_to_dict(s) for s in e[9]},
    }


def collect(port, top, subs):
    r = Resp3(port)
    infos = r.call("COMMAND", "INFO", *top)
    docs = r.call("COMMAND", "DOCS", *top)
    version = r.call("INFO", "server")
    out = {"redis_version": [l for l in version.splitlines() if l.startswith("redis_version:")][0].split(":")[1],
           "commands": []}
    for name, e in zip(top, infos):
        if e is None:
            raise SystemExit("redis-server does not know %s" % name)
        d = info_to_dict(e)
        doc = docs.get(name, {})
        d["doc"] = doc
        subdocs = doc.get("subcommands", {}) or {}
        found = []
        wanted = [s for s in subs if s.split("|")[0] == name]
        for s in wanted:
            if s in d["subcommands"]:
                sd = d["subcommands"][s]
                sd["doc"] = subdocs.get(s, {})
                sd["subcommands"] = {}
                found.append(sd)
            elif s in HAND:
                found.append({"name": s, "missing": True})
            else:
                raise SystemExit("redis-server does not know %s and the script has no data for it" % s)
        d["subcommands"] = found
        out["commands"].append(d)
    return out


# Hand-written entries for subcommands that Redis 7.0 does not have; data
# follows the Redis 7.2 documentation.
HAND = {
    "client|setinfo": {
        "name": "client|setinfo", "arity": -4,
        "flags": ["noscript", "loading", "stale"],
        "first_key": 0, "last_key": 0, "step": 0,
        "acl_categories": ["@slow", "@connection"],
        "tips": [], "key_specs": [], "subcommands": [],
        "doc": {"summary": "Sets information specific to the client or connection.",
                "since": "7.2.0", "group": "connection", "complexity": "O(1)"},
    },
    "cluster|myshardid": {
        "name": "cluster|myshardid", "arity": 2,
        "flags": ["stale"],
        "first_key": 0, "last_key": 0, "step": 0,
        "acl_categories": ["@slow"],
        "tips": ["nondeterministic_output"], "key_specs": [], "subcommands": [],
        "doc": {"summary": "Returns the shard ID of a node.",
                "since": "7.2.0", "group": "cluster", "complexity": "O(1)"},
    },
}


def rs_str(s):
    out = []
    for ch in s:
        if ch in "\\\"":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def rs_list(xs):
    return "&[" + ", ".join(rs_str(x) for x in xs) + "]"


def rs_keyspec(ks, ind):
    bs = ks["begin_search"]
    if bs["type"] == "index":
        b = "BeginSearch::Index(%d)" % bs["spec"]["index"]
    elif bs["type"] == "keyword":
        b = "BeginSearch::Keyword { keyword: %s, start_from: %d }" % (
            rs_str(bs["spec"]["keyword"]), bs["spec"]["startfrom"])
    else:
        b = "BeginSearch::Unknown"
    fk = ks["find_keys"]
    if fk["type"] == "range":
        f = "FindKeys::Range { last_key: %d, key_step: %d, limit: %d }" % (
            fk["spec"]["lastkey"], fk["spec"]["keystep"], fk["spec"]["limit"])
    elif fk["type"] == "keynum":
        f = "FindKeys::Keynum { keynum_idx: %d, first_key: %d, key_step: %d }" % (
            fk["spec"]["keynumidx"], fk["spec"]["firstkey"], fk["spec"]["keystep"])
    else:
        f = "FindKeys::Unknown"
    p = " " * ind
    return (p + "KeySpec {\n" +
            p + "    notes: %s,\n" % rs_str(ks.get("notes", "")) +
            p + "    flags: %s,\n" % rs_list(ks.get("flags", [])) +
            p + "    begin_search: %s,\n" % b +
            p + "    find_keys: %s,\n" % f +
            p + "}")


def rs_cmd(d, ind, hand=False):
    p = " " * ind
    doc = d.get("doc", {})
    lines = []
    if hand:
        lines.append(p + "// Not in Redis 7.0: defined by hand after the Redis 7.2 docs.")
    lines.append(p + "CommandSpec {")
    q = p + "    "
    lines.append(q + "name: %s," % rs_str(d["name"]))
    lines.append(q + "arity: %d," % d["arity"])
    lines.append(q + "flags: %s," % rs_list(d["flags"]))
    lines.append(q + "first_key: %d," % d["first_key"])
    lines.append(q + "last_key: %d," % d["last_key"])
    lines.append(q + "step: %d," % d["step"])
    lines.append(q + "acl_categories: %s," % rs_list(d["acl_categories"]))
    lines.append(q + "tips: %s," % rs_list(d["tips"]))
    if d["key_specs"]:
        lines.append(q + "key_specs: &[")
        for ks in d["key_specs"]:
            lines.append(rs_keyspec(ks, ind + 8) + ",")
        lines.append(q + "],")
    else:
        lines.append(q + "key_specs: &[],")
    subs = d.get("subcommands") or []
    if subs:
        lines.append(q + "subcommands: &[")
        for s in subs:
            if s.get("missing"):
                lines.append(rs_cmd(HAND[s["name"]], ind + 8, hand=True) + ",")
            else:
                lines.append(rs_cmd(s, ind + 8) + ",")
        lines.append(q + "],")
    else:
        lines.append(q + "subcommands: &[],")
    lines.append(q + "summary: %s," % rs_str(doc.get("summary", "")))
    lines.append(q + "since: %s," % rs_str(doc.get("since", "")))
    lines.append(q + "group: %s," % rs_str(doc.get("group", "")))
    lines.append(q + "complexity: %s," % rs_str(doc.get("complexity", "")))
    lines.append(q + "doc_flags: %s," % rs_list(doc.get("doc_flags", [])))
    lines.append(p + "}")
    return "\n".join(lines)


HEADER = """\
// @generated by scripts/gen_command_table.py from redis-server %s.
// Do not edit by hand: regenerate with
//   scripts/gen_command_table.py --write node/src/commands/table_data.rs
// against a redis-server 7 on port 6490. The command names are those of
// scripts/commands.txt; the types are in table.rs.

use super::{BeginSearch, CommandSpec, FindKeys, KeySpec};

"""


def rs_file(data):
    """The whole of table_data.rs."""
    out = ["pub static COMMANDS: &[CommandSpec] = &["]
    for d in data["commands"]:
        out.append(rs_cmd(d, 4) + ",")
    out.append("];")
    return HEADER % data["redis_version"] + "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0],
        epilog="See the module docstring of this script for the regeneration steps.")
    ap.add_argument("--port", type=int, default=6490, help="redis-server port (default 6490)")
    ap.add_argument("--names", default=DEFAULT_NAMES,
                    help="list of command names (default scripts/commands.txt)")
    out = ap.add_mutually_exclusive_group()
    out.add_argument("--rust", action="store_true", help="print table_data.rs on stdout")
    out.add_argument("--write", metavar="FILE", help="write table_data.rs to FILE, whole")
    args = ap.parse_args()
    top, subs = read_names(args.names)
    data = collect(args.port, top, subs)
    if args.write:
        text = rs_file(data)
        tmp = args.write + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args.write)
    elif args.rust:
        sys.stdout.write(rs_file(data))
    else:
        json.dump(data, sys.stdout, indent=1)


if __name__ == "__main__":
    main()

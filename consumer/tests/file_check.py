#!/usr/bin/env python3
# file_check.py
#    Checks of walapply's text files for the end-to-end tests (stdlib only).
#
#    file_check.py once FILE
#        every transaction record is whole (begin ... commit, the same LSNs on
#        both lines) and commit LSNs strictly increase: each transaction
#        exactly once, in commit order.
#    file_check.py jsonl-table FILE TABLE KEY
#        replays the JSON Lines changes of public.TABLE keyed by column KEY
#        and prints the final rows, one JSON object per line, sorted by key,
#        for comparison with the source's rows.

import json
import re
import sys


def lsn(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def records(path):
    """Yields (begin_fields, commit_fields, body_lines) per transaction."""
    sql = path.endswith(".sql")
    begin = None
    body = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.endswith("\n"):
                raise SystemExit(f"{path}:{n}: last line is incomplete")
            line = line[:-1]
            if sql:
                if line.startswith("-- wal2proto begin "):
                    kind = "begin"
                elif line.startswith("COMMIT; -- wal2proto commit "):
                    kind = "commit"
                else:
                    kind = "other"
                fields = dict(re.findall(r"(\w+)=(\S+)", line)) if kind != "other" else None
            else:
                obj = json.loads(line)
                kind = obj["kind"] if obj["kind"] in ("begin", "commit") else "other"
                fields = obj
            if kind == "begin":
                if begin is not None:
                    raise SystemExit(f"{path}:{n}: begin inside a transaction")
                begin, body = fields, []
            elif kind == "commit":
                if begin is None:
                    raise SystemExit(f"{path}:{n}: commit without begin")
                yield begin, fields, body, n
                begin = None
            elif begin is not None:
                body.append(fields if not sql else line)
    if begin is not None:
        raise SystemExit(f"{path}: ends inside a transaction")


def check_once(path):
    last = -1
    count = 0
    for begin, commit, _, n in records(path):
        for key in ("commit_lsn", "end_lsn", "xid"):
            if str(begin[key]) != str(commit[key]):
                raise SystemExit(f"{path}:{n}: begin and commit disagree on {key}")
        c = lsn(commit["commit_lsn"])
        if c <= last:
            raise SystemExit(f"{path}:{n}: commit {commit['commit_lsn']} is not after the previous one")
        if lsn(commit["end_lsn"]) <= c:
            raise SystemExit(f"{path}:{n}: end_lsn not past commit_lsn")
        last = c
        count += 1
    print(f"{path}: {count} transactions, each once, commit LSNs strictly increasing")


def jsonl_table(path, table, key):
    rows = {}
    for _, _, body, _ in records(path):
        for ch in body:
            k = ch["kind"]
            if k == "truncate":
                if any(r["schema"] == "public" and r["table"] == table for r in ch["relations"]):
                    rows.clear()
                continue
            if k not in ("insert", "update", "delete") or ch["table"] != table:
                continue
            if k == "insert":
                rows[ch["new"][key]] = ch["new"]
            elif k == "update":
                old_key = ch.get("old", ch["new"])[key]
                row = dict(rows.pop(old_key))
                row.update(ch["new"])
                rows[row[key]] = row
            else:
                del rows[ch["old"][key]]
    for k in sorted(rows):
        print(json.dumps(rows[k], sort_keys=True, ensure_ascii=False))


if __name__ == "__main__":
    if sys.argv[1] == "once":
        check_once(sys.argv[2])
    elif sys.argv[1] == "jsonl-table":
        jsonl_table(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit("usage: file_check.py once FILE | jsonl-table FILE TABLE KEY")

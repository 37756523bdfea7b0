#!/usr/bin/python3
# compare.py
#    Compares PostgreSQL tables with the MongoDB collections walapply fills.
#
# Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
#
# Every row of every table of the schema is turned into the document the
# MongoDB target's mapping says it must become (README, "MongoDB target"),
# computed here independently of walapply from SQL expressions, and compared
# with the document read back from MongoDB, field by field, as exact BSON
# bytes (so Int32 vs Int64, Double vs Decimal128, Binary subtypes and the
# order inside embedded documents all count).  The order of top-level fields
# does not count: a $set may append a field that a whole-document write
# would have put elsewhere.  Tables without a primary key are compared as
# multisets of documents without _id.
#
# Usage: compare.py --pg CONNINFO --mongo URI [--schema public]
#                   [--database NAME] [--nulls null|absent] [--exclude T,...]
#                   [--quiet]
# Exit status 0 when every collection equals its table, 1 otherwise.

import argparse
import decimal
import json
import os
import re
import struct
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bson  # noqa: E402
import psycopg2  # noqa: E402
import pymongo  # noqa: E402
from bson.binary import Binary, UuidRepresentation  # noqa: E402
from bson.codec_options import CodecOptions  # noqa: E402
from bson.decimal128 import Decimal128  # noqa: E402
from bson.int64 import Int64  # noqa: E402
from bson.raw_bson import RawBSONDocument  # noqa: E402

import server  # noqa: E402  (BSON dates outside Python's range)

INT64_MAX = 2 ** 63 - 1
INT64_MIN = -2 ** 63
RAW = CodecOptions(document_class=RawBSONDocument,
                   uuid_representation=UuidRepresentation.UNSPECIFIED)


class Date(object):
    """A BSON date by its milliseconds (any int64)."""

    def __init__(self, ms):
        self.ms = ms


bson._ENCODERS[Date] = (
    lambda name, value, check_keys, opts: b'\x09' + name + struct.pack('<q', value.ms))


def encode_py(doc):
    """BSON of a dict with the pure-Python encoder (knows Date)."""
    parts = [bson._element_to_bson(k, v, False, server.CODEC) for k, v in doc.items()]
    body = b''.join(parts)
    return struct.pack('<i', len(body) + 5) + body + b'\x00'


def elements(raw):
    """The top-level elements of a BSON document: {name: element bytes}."""
    out = {}
    pos, end = 4, len(raw) - 1
    while pos < end:
        start = pos
        t = raw[pos]
        name_end = raw.index(b'\x00', pos + 1)
        name = raw[pos + 1:name_end].decode('utf-8')
        pos = name_end + 1
        if t in (0x01, 0x09, 0x11, 0x12):
            pos += 8
        elif t in (0x02, 0x0D, 0x0E):
            pos += 4 + struct.unpack_from('<i', raw, pos)[0]
        elif t in (0x03, 0x04):
            pos += struct.unpack_from('<i', raw, pos)[0]
        elif t == 0x05:
            pos += 5 + struct.unpack_from('<i', raw, pos)[0]
        elif t in (0x06, 0x0A, 0x7F, 0xFF):
            pass
        elif t == 0x07:
            pos += 12
        elif t == 0x08:
            pos += 1
        elif t == 0x10:
            pos += 4
        elif t == 0x13:
            pos += 16
        elif t == 0x0B:
            pos = raw.index(b'\x00', raw.index(b'\x00', pos) + 1) + 1
        else:
            raise ValueError('BSON type 0x%02x not handled' % t)
        out[name] = raw[start:pos]
    return out


def show(element):
    """An element for a message: canonical extended JSON when decodable."""
    name_end = element.index(b'\x00', 1)
    doc = struct.pack('<i', len(element) + 5) + element + b'\x00'
    try:
        d = server.decode_all(doc, server.CODEC)[0]
        return bson.json_util.dumps(d, json_options=bson.json_util.CANONICAL_JSON_OPTIONS)
    except Exception:
        return '%s: %s' % (element[1:name_end].decode(), element.hex())


# --- the mapping, from SQL ---------------------------------------------------

def numeric(text):
    if text in ('NaN', 'Infinity', '-Infinity'):
        return Decimal128(text)
    t = decimal.Decimal(text).as_tuple()
    digits = ''.join(map(str, t.digits)).lstrip('0')
    if len(digits) <= 34 and t.exponent >= -6176:
        return Decimal128(text)
    return text


def json_value(text):
    def parse_int(s):
        if s == '-0':
            return Decimal128(s)  # keeps the sign, as walapply does
        v = int(s)
        if -2 ** 31 <= v < 2 ** 31:
            return v
        if INT64_MIN <= v <= INT64_MAX:
            return Int64(v)
        return numeric(s)

    def parse_float(s):
        if 'e' in s or 'E' in s:
            try:
                return Decimal128(s)
            except Exception:
                return s
        return numeric(s)
    return json.loads(text, parse_int=parse_int, parse_float=parse_float,
                      parse_constant=lambda s: s)


def epoch_us(text):
    """Microseconds from the text of an exact epoch (numeric seconds)."""
    return int(decimal.Decimal(text) * 1000000)


class ColumnMap(object):
    """How one column reads from SQL and becomes a BSON value."""

    def __init__(self, name, typname, base_oid, base_name, elem_name, is_array):
        self.name = name
        self.typname = base_name
        self.elem = elem_name
        self.is_array = is_array
        self.micros = (base_name in ('timestamp', 'timestamptz') or
                       (is_array and elem_name in ('timestamp', 'timestamptz')))

    def scalar_sql(self, expr, typ):
        q = expr
        if typ in ('float4', 'float8'):
            return '(%s)::float8::text' % q
        if typ in ('timestamp', 'timestamptz'):
            return ("CASE WHEN isfinite(%s) THEN 'e' || extract(epoch from %s)::text "
                    "ELSE (%s)::text END" % (q, q, q))
        if typ == 'date':
            return ("CASE WHEN isfinite(%s) THEN 'e' || ((%s) - date '1970-01-01')::text "
                    "ELSE (%s)::text END" % (q, q, q))
        if typ == 'bytea':
            return "encode(%s, 'hex')" % q
        # The type's output function (a cast to text would trim a char(n)
        # and add an inet's netmask).
        return "CASE WHEN %s IS NOT NULL THEN format('%%s', %s) END" % (q, q)

    def sql(self):
        col = '"%s"' % self.name.replace('"', '""')
        if self.is_array:
            return ("CASE WHEN %s IS NOT NULL THEN coalesce(array_dims(%s), '') END, "
                    "ARRAY(SELECT %s FROM unnest(%s) e)"
                    % (col, col, self.scalar_sql('e', self.elem), col))
        return self.scalar_sql(col, self.typname)

    def width(self):
        return 2 if self.is_array else 1

    def convert_scalar(self, text, typ, micros):
        if text is None:
            if micros is not None:
                micros.append(0)
            return None
        if typ in ('int2', 'int4'):
            return int(text)
        if typ in ('int8', 'oid'):
            return Int64(int(text))
        if typ in ('float4', 'float8'):
            return float(text)
        if typ == 'numeric':
            return numeric(text)
        if typ == 'bool':
            return text in ('t', 'true')
        if typ == 'bytea':
            return Binary(bytes.fromhex(text), 0)
        if typ == 'uuid':
            return Binary(uuid.UUID(text).bytes, 4)
        if typ in ('json', 'jsonb'):
            return json_value(text)
        if typ in ('timestamp', 'timestamptz', 'date'):
            if text == 'infinity' or text == '-infinity':
                if micros is not None:
                    micros.append(0)
                return Date(INT64_MAX if text == 'infinity' else INT64_MIN)
            if not text.startswith('e'):
                if micros is not None:
                    micros.append(0)
                return text  # beyond int64 microseconds: the text
            if typ == 'date':
                return Date(int(text[1:]) * 86400000)
            us = epoch_us(text[1:])
            ms = us // 1000
            micros.append(us - ms * 1000)
            return Date(ms)
        return text

    def convert(self, values, micros):
        if not self.is_array:
            return self.convert_scalar(values[0], self.typname, micros)
        dims, flat = values
        if dims is None:
            return None
        if flat is None:
            flat = []
        bounds = [tuple(map(int, m)) for m in re.findall(r'\[(-?\d+):(-?\d+)\]', dims)]
        if any(lo != 1 for lo, _ in bounds):
            raise ValueError('column %s: lower bounds other than 1 are not compared'
                             % self.name)
        items = [self.convert_scalar(t, self.elem, micros) for t in flat]

        def shape(items, lens):
            if len(lens) == 1:
                return items
            step = len(items) // lens[0]
            return [shape(items[i * step:(i + 1) * step], lens[1:]) for i in range(lens[0])]
        return shape(items, [hi - lo + 1 for lo, hi in bounds]) if bounds else []


def table_columns(cur, schema, table):
    cur.execute("""
        SELECT a.attname, t.typname,
               coalesce(nullif(t.typbasetype, 0), t.oid),
               bt.typname, et.typname, bt.typcategory = 'A'
        FROM pg_attribute a
        JOIN pg_type t ON t.oid = a.atttypid
        JOIN pg_type bt ON bt.oid = coalesce(nullif(t.typbasetype, 0), t.oid)
        LEFT JOIN pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
        WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum""", ('"%s"."%s"' % (schema, table),))
    return [ColumnMap(*r) for r in cur.fetchall()]


def key_columns(cur, schema, table):
    cur.execute("""
        SELECT a.attname FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        JOIN pg_class c ON c.oid = i.indrelid
        WHERE i.indrelid = %s::regclass
          AND CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END
        ORDER BY a.attnum""", ('"%s"."%s"' % (schema, table),))
    return [r[0] for r in cur.fetchall()]


def expected_docs(cur, schema, table, nulls):
    cols = table_columns(cur, schema, table)
    keys = key_columns(cur, schema, table)
    cur.execute('SELECT %s FROM "%s"."%s"' % (', '.join(c.sql() for c in cols), schema, table))
    docs = []
    for row in cur.fetchall():
        doc, side, pos = {}, {}, 0
        by_name = {}
        for c in cols:
            values = row[pos:pos + c.width()]
            pos += c.width()
            micros = [] if c.micros else None
            v = c.convert(values, micros)
            by_name[c.name] = v
            if v is None and nulls == 'absent':
                pass
            else:
                doc[c.name] = v
            if micros and any(micros):
                side[c.name] = micros[0] if not c.is_array else micros
        if side:
            doc['_us'] = side
        if keys:
            if len(keys) == 1:
                idv = by_name[keys[0]]
            else:
                idv = {k: by_name[k] for k in keys}
            doc = dict([('_id', idv)] + list(doc.items()))
        docs.append(doc)
    return docs, bool(keys)


def compare_table(cur, client, schema, database, table, nulls, problems):
    docs, keyed = expected_docs(cur, schema, table, nulls)
    expected = {}
    unkeyed = []
    for d in docs:
        el = elements(encode_py(d))
        if keyed:
            expected[el['_id']] = el
        else:
            el.pop('_id', None)
            unkeyed.append(tuple(sorted(el.items())))
    actual = {}
    actual_unkeyed = []
    coll = client[database].get_collection(table, codec_options=RAW)
    for raw in coll.find({}, batch_size=10000):
        el = elements(raw.raw)
        if keyed:
            if el['_id'] in actual:
                problems.append('%s.%s: _id %s twice' % (database, table, show(el['_id'])))
            actual[el['_id']] = el
        else:
            el.pop('_id', None)
            actual_unkeyed.append(tuple(sorted(el.items())))
    name = '%s.%s' % (database, table)
    if not keyed:
        if sorted(unkeyed) != sorted(actual_unkeyed):
            problems.append('%s: %d rows, %d documents, contents differ (keyless)'
                            % (name, len(unkeyed), len(actual_unkeyed)))
        return len(unkeyed)
    for k, el in expected.items():
        got = actual.get(k)
        if got is None:
            problems.append('%s: missing document %s' % (name, show(k)))
            continue
        for f in sorted(set(el) | set(got)):
            if el.get(f) != got.get(f):
                problems.append('%s: document %s field %s: expected %s, got %s' % (
                    name, show(k), f, show(el[f]) if f in el else '(absent)',
                    show(got[f]) if f in got else '(absent)'))
    for k in actual:
        if k not in expected:
            problems.append('%s: extra document %s' % (name, show(k)))
    return len(expected)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--pg', required=True)
    p.add_argument('--mongo', required=True)
    p.add_argument('--schema', default='public')
    p.add_argument('--database')
    p.add_argument('--nulls', default='null', choices=['null', 'absent'])
    p.add_argument('--exclude', default='', help='tables to leave out, comma-separated')
    p.add_argument('--quiet', action='store_true')
    args = p.parse_args()

    conn = psycopg2.connect(args.pg)
    cur = conn.cursor()
    cur.execute("SET extra_float_digits = 3; SET DateStyle = ISO; SET TimeZone = UTC; "
                "SET IntervalStyle = iso_8601; SET bytea_output = hex")
    cur.execute("""SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY 1""",
                (args.schema,))
    excluded = set(filter(None, args.exclude.split(',')))
    tables = [r[0] for r in cur.fetchall() if r[0] not in excluded]
    # One seed without replicaSet: talk to that server directly.
    direct = 'replicaSet=' not in args.mongo and ',' not in args.mongo.split('/')[2]
    client = pymongo.MongoClient(args.mongo, uuidRepresentation='unspecified',
                                 directConnection=direct)
    database = args.database or args.schema
    problems = []
    total = 0
    for t in tables:
        total += compare_table(cur, client, args.schema, database, t, args.nulls, problems)
    if problems:
        for line in problems[:20]:
            print('compare: ' + line, file=sys.stderr)
        if len(problems) > 20:
            print('compare: ... and %d more' % (len(problems) - 20), file=sys.stderr)
        sys.exit(1)
    if not args.quiet:
        print('compare: %d tables, %d rows: every document equals its row' % (len(tables), total))


if __name__ == '__main__':
    main()

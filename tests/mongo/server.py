#!/usr/bin/python3
# server.py
#    A small MongoDB-wire server for walapply's tests.
#
# Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
#
# No mongod can be installed from Debian, so the MongoDB target's tests talk
# to this server instead: it speaks the wire protocol (the legacy OP_QUERY
# hello that libmongoc sends first, then OP_MSG), answers hello as the
# primary of a one-node replica set, and keeps databases in memory.
#
# Requests are parsed by mockupdb (Debian's python3-mockupdb); filters that
# are more than plain equality are evaluated by mongomock's matcher
# (python3-mongomock).  Everything the tests depend on is done here:
#  * each collection is a dict keyed by a canonical form of _id, so an _id
#    lookup (every upsert, update and delete of the target) is O(1);
#  * BSON is decoded with uuid_representation UNSPECIFIED, so UUIDs stay
#    Binary with the subtype they were sent with (3 or 4);
#  * dates that Python's datetime cannot hold (before year 1, after 9999,
#    the int64 extremes) are kept as their milliseconds and sent back as the
#    same BSON dates;
#  * a message that cannot be decoded gets an error reply, never silence.
#
# Supported commands: hello/isMaster, ping, buildInfo, endSessions, insert,
# update ($set, $unset, replacement; upsert; multi), delete, find, getMore,
# killCursors, count, aggregate ($match then $count or $group count only),
# listDatabases, listCollections, create, createIndexes, drop,
# dropDatabase.
#
# With --dbpath FILE the databases are written to FILE when the server is
# stopped with SIGTERM or SIGINT and read back when it starts, so a test can
# restart "MongoDB" without losing what it holds (kill -9 loses it).
#
# Usage: server.py --port PORT [--host 127.0.0.1] [--pidfile FILE]
#                  [--dbpath FILE]

import argparse
import datetime
import gc
import itertools
import os
import pickle
import signal
import socket
import socketserver
import struct
import sys
import threading

import bson
import bson.decimal128
import bson.int64
import mockupdb
from bson.binary import Binary, UuidRepresentation
from bson.codec_options import CodecOptions
from bson.errors import InvalidBSON, InvalidDocument
from bson.objectid import ObjectId
from mongomock import filtering

OP_REPLY = 1
OP_QUERY = 2004
OP_MSG = 2013
MAX_MESSAGE = 48000000
MAX_BSON = 16 * 1024 * 1024

CODEC = CodecOptions(document_class=dict, tz_aware=False,
                     uuid_representation=UuidRepresentation.UNSPECIFIED)


class DateMs(object):
    """A BSON date outside Python's datetime range, as milliseconds."""
    __slots__ = ('ms',)

    def __init__(self, ms):
        self.ms = ms

    def __eq__(self, other):
        return isinstance(other, DateMs) and other.ms == self.ms

    def __hash__(self):
        return hash(self.ms)

    def __repr__(self):
        return 'DateMs(%d)' % self.ms


# --- BSON with out-of-range dates ------------------------------------------

_c_decode_all = bson.decode_all
_UNPACK_LONG = struct.Struct('<q').unpack_from


def _get_date(data, view, position, dummy0, opts, dummy1):
    ms = _UNPACK_LONG(data, position)[0]
    try:
        value = bson._millis_to_datetime(ms, opts)
    except (OverflowError, ValueError):
        value = DateMs(ms)
    return value, position + 8


def _py_element_to_dict(data, view, position, obj_end, opts):
    # The pure-Python element decoder (with the C extension loaded, bson's
    # own one calls C, which cannot return an out-of-range date).
    element_type = data[position]
    position += 1
    name, position = bson._get_c_string(data, view, position, opts)
    getter = bson._ELEMENT_GETTER.get(element_type)
    if getter is None:
        raise InvalidBSON('unknown BSON type 0x%02x for field %r' % (element_type, name))
    value, position = getter(data, view, position, obj_end, opts, name)
    return name, value, position


bson._ELEMENT_GETTER[9] = _get_date
bson._element_to_dict = _py_element_to_dict
bson._ENCODERS[DateMs] = (
    lambda name, value, check_keys, opts: b'\x09' + name + struct.pack('<q', value.ms))


def decode_all(data, codec_options=CODEC):
    """bson.decode_all that falls back to the Python decoder for dates."""
    try:
        return _c_decode_all(data, codec_options)
    except (InvalidBSON, OverflowError, ValueError):
        pass
    data, view = bson.get_data_and_view(data)
    docs = []
    position = 0
    while position < len(data) - 1:
        size = struct.unpack_from('<i', data, position)[0]
        if size < 5 or position + size > len(data) or data[position + size - 1] != 0:
            raise InvalidBSON('invalid object size')
        try:
            docs.append(bson._elements_to_dict(data, view, position + 4,
                                               position + size - 1, codec_options))
        except InvalidBSON:
            raise
        except Exception as e:
            raise InvalidBSON(str(e))
        position += size
    return docs


def encode(doc):
    try:
        return bson.encode(doc, codec_options=CODEC)
    except (InvalidDocument, TypeError, OverflowError):
        pass
    parts = []
    if '_id' in doc:
        parts.append(bson._element_to_bson('_id', doc['_id'], False, CODEC))
    for k, v in doc.items():
        if k != '_id':
            parts.append(bson._element_to_bson(k, v, False, CODEC))
    body = b''.join(parts)
    return struct.pack('<i', len(body) + 5) + body + b'\x00'


bson.decode_all = decode_all
mockupdb.CODEC_OPTIONS = CODEC


# --- values -----------------------------------------------------------------

def key_of(v):
    """A hashable canonical form: equal BSON values give equal keys."""
    if v is None:
        return ('null',)
    if isinstance(v, bool):
        return ('b', v)
    if isinstance(v, int):
        return ('n', int(v))
    if isinstance(v, float):
        if v != v:
            return ('nan',)
        if v.is_integer():
            return ('n', int(v))
        return ('n', v)
    if isinstance(v, str):
        return ('s', v)
    if isinstance(v, Binary):
        return ('x', v.subtype, bytes(v))
    if isinstance(v, bytes):
        return ('x', 0, v)
    if isinstance(v, bson.decimal128.Decimal128):
        return ('d', v.bid)
    if isinstance(v, datetime.datetime):
        return ('t', bson._datetime_to_millis(v))
    if isinstance(v, DateMs):
        return ('t', v.ms)
    if isinstance(v, dict):
        return ('o', tuple((k, key_of(x)) for k, x in v.items()))
    if isinstance(v, list):
        return ('a', tuple(key_of(x) for x in v))
    if isinstance(v, ObjectId):
        return ('oid', v.binary)
    return ('?', repr(v))


_MISSING = object()


def get_path(doc, path):
    cur = doc
    for part in path.split('.'):
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def set_path(doc, path, value):
    parts = path.split('.')
    cur = doc
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[parts[-1]] = value


def unset_path(doc, path):
    parts = path.split('.')
    cur = doc
    for part in parts[:-1]:
        cur = cur.get(part)
        if not isinstance(cur, dict):
            return
    cur.pop(parts[-1], None)


def is_operator_doc(v):
    return isinstance(v, dict) and any(k.startswith('$') for k in v)


def plain_equality(flt):
    return all(not k.startswith('$') and not is_operator_doc(v) for k, v in flt.items())


class CommandError(Exception):
    def __init__(self, code, name, msg):
        Exception.__init__(self, msg)
        self.code = code
        self.code_name = name


class WriteError(Exception):
    def __init__(self, code, msg):
        Exception.__init__(self, msg)
        self.code = code


class Collection(object):
    """Documents in insertion order, keyed by the canonical form of _id."""

    def __init__(self):
        self.docs = {}

    def matches(self, doc, flt):
        if plain_equality(flt):
            for path, want in flt.items():
                have = get_path(doc, path)
                if want is None:
                    if have is not _MISSING and have is not None:
                        return False
                elif have is _MISSING or key_of(have) != key_of(want):
                    return False
            return True
        return filtering.filter_applies(flt, doc)

    def find(self, flt, limit=0):
        """Matching documents (the stored objects), in insertion order."""
        flt = flt or {}
        idv = flt.get('_id', _MISSING)
        if idv is not _MISSING and not is_operator_doc(idv):
            doc = self.docs.get(key_of(idv))
            return [doc] if doc is not None and self.matches(doc, flt) else []
        out = []
        for doc in self.docs.values():
            if self.matches(doc, flt):
                out.append(doc)
                if limit and len(out) >= limit:
                    break
        return out

    def insert(self, doc):
        if '_id' not in doc:
            doc = dict(itertools.chain([('_id', ObjectId())], doc.items()))
        k = key_of(doc['_id'])
        if k in self.docs:
            raise WriteError(11000, 'E11000 duplicate key error: _id %r' % (doc['_id'],))
        self.docs[k] = doc
        return doc

    def replace(self, old, new):
        new_id = new.get('_id', old['_id'])
        if key_of(new_id) != key_of(old['_id']):
            raise WriteError(66, "the (immutable) field '_id' was found to have been altered")
        doc = {'_id': old['_id']}
        for k, v in new.items():
            if k != '_id':
                doc[k] = v
        self.docs[key_of(old['_id'])] = doc

    def delete(self, doc):
        self.docs.pop(key_of(doc['_id']), None)


def apply_update_ops(doc, u):
    for op, fields in u.items():
        if op == '$set':
            for path, v in fields.items():
                if path == '_id' and key_of(v) != key_of(doc.get('_id')):
                    raise WriteError(66, "the (immutable) field '_id' was found to have been altered")
                set_path(doc, path, v)
        elif op == '$unset':
            for path in fields:
                if path == '_id':
                    raise WriteError(66, "the (immutable) field '_id' cannot be unset")
                unset_path(doc, path)
        elif op == '$setOnInsert':
            pass
        else:
            raise WriteError(9, 'unsupported update operator %s' % op)


# --- the server -------------------------------------------------------------

class Store(object):
    def __init__(self, port):
        self.lock = threading.Lock()
        self.dbs = {}
        self.cursors = {}
        self.next_cursor = 1
        self.connections = itertools.count(1)
        self.port = port

    def coll(self, db, name, create=True):
        colls = self.dbs.get(db)
        if colls is None:
            if not create:
                return None
            colls = self.dbs[db] = {}
        c = colls.get(name)
        if c is None and create:
            c = colls[name] = Collection()
        return c

    def hello(self, cmd, conn_id):
        me = '127.0.0.1:%d' % self.port
        return {
            'helloOk': True, 'ismaster': True, 'isWritablePrimary': True,
            'setName': 'walapply-test', 'setVersion': 1, 'hosts': [me],
            'primary': me, 'me': me,
            'maxBsonObjectSize': MAX_BSON, 'maxMessageSizeBytes': MAX_MESSAGE,
            'maxWriteBatchSize': 100000,
            'localTime': datetime.datetime.utcnow(),
            'logicalSessionTimeoutMinutes': 30, 'connectionId': conn_id,
            'minWireVersion': 0, 'maxWireVersion': 13, 'readOnly': False,
            'ok': 1.0}

    def run(self, cmd, db, conn_id):
        name = next(iter(cmd)) if cmd else ''
        lname = name.lower()
        if lname in ('hello', 'ismaster'):
            return self.hello(cmd, conn_id)
        if lname in ('ping', 'endsessions', 'createindexes', 'create',
                     'getlasterror', 'killcursors'):
            if lname == 'create':
                with self.lock:
                    self.coll(db, cmd[name])
            if lname == 'killcursors':
                with self.lock:
                    for cid in cmd.get('cursors', []):
                        self.cursors.pop(int(cid), None)
            return {'ok': 1.0}
        if lname == 'buildinfo':
            return {'version': '5.0.0', 'versionArray': [5, 0, 0, 0], 'ok': 1.0}
        handler = getattr(self, 'cmd_' + lname, None)
        if handler is None:
            raise CommandError(59, 'CommandNotFound', 'no such command: \'%s\'' % name)
        with self.lock:
            return handler(cmd, db, name)

    def cmd_insert(self, cmd, db, name):
        c = self.coll(db, cmd[name])
        n, errors = 0, []
        for i, doc in enumerate(cmd.get('documents', [])):
            try:
                c.insert(doc)
                n += 1
            except WriteError as e:
                errors.append({'index': i, 'code': e.code, 'errmsg': str(e)})
                if cmd.get('ordered', True):
                    break
        return self.write_reply(n, errors)

    def cmd_update(self, cmd, db, name):
        c = self.coll(db, cmd[name])
        n = modified = 0
        upserted, errors = [], []
        for i, spec in enumerate(cmd.get('updates', [])):
            try:
                q, u = spec.get('q', {}), spec.get('u', {})
                if isinstance(u, list):
                    raise WriteError(9, 'pipeline updates are not supported')
                ops = bool(u) and all(k.startswith('$') for k in u)
                found = c.find(q, 0 if spec.get('multi') else 1)
                if found:
                    for doc in found:
                        if ops:
                            new = dict(doc)
                            # A copy for nested paths: stored documents
                            # are never shared with replies.
                            new = bson.decode_all(encode(doc), CODEC)[0] if any(
                                '.' in p for f in u.values() if isinstance(f, dict)
                                for p in f) else new
                            apply_update_ops(new, u)
                            c.docs[key_of(doc['_id'])] = new
                        else:
                            c.replace(doc, u)
                        n += 1
                        modified += 1
                elif spec.get('upsert'):
                    base = {}
                    if plain_equality(q):
                        for path, v in q.items():
                            set_path(base, path, v)
                    if ops:
                        apply_update_ops(base, u)
                        for path, v in u.get('$setOnInsert', {}).items():
                            set_path(base, path, v)
                    else:
                        idv = base.get('_id', u.get('_id'))
                        base = dict(u)
                        if idv is not None:
                            base['_id'] = idv
                    doc = c.insert(base)
                    upserted.append({'index': i, '_id': doc['_id']})
                    n += 1
            except WriteError as e:
                errors.append({'index': i, 'code': e.code, 'errmsg': str(e)})
                if cmd.get('ordered', True):
                    break
        reply = self.write_reply(n, errors)
        reply['nModified'] = modified
        if upserted:
            reply['upserted'] = upserted
        return reply

    def cmd_delete(self, cmd, db, name):
        c = self.coll(db, cmd[name])
        n = 0
        for spec in cmd.get('deletes', []):
            q, limit = spec.get('q', {}), spec.get('limit', 0)
            if not q and not limit:
                n += len(c.docs)
                c.docs.clear()
                continue
            for doc in c.find(q, 1 if limit else 0):
                c.delete(doc)
                n += 1
        return self.write_reply(n, [])

    @staticmethod
    def write_reply(n, errors):
        reply = {'n': n, 'ok': 1.0}
        if errors:
            reply['writeErrors'] = errors
        return reply

    def cursor_reply(self, ns, docs, batch_size, first):
        if not batch_size:
            batch_size = 101 if first else 1 << 30
        batch, size = [], 0
        it = iter(docs)
        for doc in it:
            raw = encode(doc)
            batch.append(doc)
            size += len(raw)
            if len(batch) >= batch_size or size >= 8 * 1024 * 1024:
                break
        rest = list(it)
        cid = 0
        if rest:
            cid = self.next_cursor
            self.next_cursor += 1
            self.cursors[cid] = (ns, rest)
        key = 'firstBatch' if first else 'nextBatch'
        return {'cursor': {key: batch, 'id': bson.int64.Int64(cid), 'ns': ns}, 'ok': 1.0}

    def cmd_find(self, cmd, db, name):
        c = self.coll(db, cmd[name], create=False)
        docs = c.find(cmd.get('filter', {})) if c else []
        docs = [dict(d) for d in docs]
        skip, limit = cmd.get('skip', 0), cmd.get('limit', 0)
        docs = docs[skip:]
        if limit:
            docs = docs[:abs(limit)]
        if cmd.get('singleBatch'):
            return self.cursor_reply('%s.%s' % (db, cmd[name]), docs, len(docs) or 1, True)
        return self.cursor_reply('%s.%s' % (db, cmd[name]), docs, cmd.get('batchSize'), True)

    def cmd_getmore(self, cmd, db, name):
        cid = int(cmd[name])
        entry = self.cursors.pop(cid, None)
        if entry is None:
            raise CommandError(43, 'CursorNotFound', 'cursor id %d not found' % cid)
        ns, rest = entry
        reply = self.cursor_reply(ns, rest, cmd.get('batchSize'), False)
        if reply['cursor']['id']:
            # Keep the cursor id the client knows.
            self.cursors[cid] = self.cursors.pop(int(reply['cursor']['id']))
            reply['cursor']['id'] = bson.int64.Int64(cid)
        return reply

    def cmd_count(self, cmd, db, name):
        c = self.coll(db, cmd[name], create=False)
        q = cmd.get('query') or {}
        n = 0 if c is None else (len(c.docs) if not q else len(c.find(q)))
        return {'n': n, 'ok': 1.0}

    def cmd_aggregate(self, cmd, db, name):
        c = self.coll(db, cmd[name], create=False)
        docs = list(c.docs.values()) if c else []
        out = None
        for stage in cmd.get('pipeline', []):
            op, arg = next(iter(stage.items()))
            if op == '$match':
                docs = [d for d in docs if c.matches(d, arg)] if arg else docs
            elif op == '$count':
                out = [{arg: len(docs)}] if docs else []
            elif op == '$group' and list(arg) == ['_id', 'n'] and arg['n'] == {'$sum': 1}:
                out = [{'_id': arg['_id'], 'n': len(docs)}] if docs else []
            elif op in ('$skip', '$limit', '$project'):
                if op == '$skip':
                    docs = docs[arg:]
                elif op == '$limit':
                    docs = docs[:arg]
            else:
                raise CommandError(9, 'FailedToParse', 'unsupported stage %s' % op)
        return self.cursor_reply('%s.%s' % (db, cmd[name]),
                                 out if out is not None else docs, 0, True)

    def cmd_listdatabases(self, cmd, db, name):
        return {'databases': [{'name': d, 'sizeOnDisk': 1.0, 'empty': False}
                              for d in sorted(self.dbs)], 'ok': 1.0}

    def cmd_listcollections(self, cmd, db, name):
        colls = sorted(self.dbs.get(db, {}))
        return self.cursor_reply('%s.$cmd.listCollections' % db,
                                 [{'name': n, 'type': 'collection'} for n in colls], 0, True)

    def cmd_drop(self, cmd, db, name):
        if self.dbs.get(db, {}).pop(cmd[name], None) is None:
            raise CommandError(26, 'NamespaceNotFound', 'ns not found')
        return {'ok': 1.0}

    def cmd_dropdatabase(self, cmd, db, name):
        self.dbs.pop(db, None)
        return {'ok': 1.0}


STORE = None


def frame(opcode, response_to, body):
    return struct.pack('<iiii', 16 + len(body), 0, response_to, opcode) + body


def reply_bytes(opcode, request_id, doc):
    raw = encode(doc)
    if opcode == OP_QUERY:
        return frame(OP_REPLY, request_id, struct.pack('<iqii', 8, 0, 0, 1) + raw)
    return frame(OP_MSG, request_id, struct.pack('<I', 0) + b'\x00' + raw)


def error_doc(code, name, msg):
    return {'ok': 0.0, 'errmsg': msg, 'code': code, 'codeName': name}


class Handler(socketserver.BaseRequestHandler):
    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def handle(self):
        conn_id = next(STORE.connections)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            header = self.recv_exact(16)
            if header is None:
                return
            length, request_id, _, opcode = struct.unpack('<iiii', header)
            if length < 16 or length > MAX_MESSAGE:
                self.request.sendall(reply_bytes(OP_MSG, request_id, error_doc(
                    22, 'InvalidBSON', 'invalid message length %d' % length)))
                return
            body = self.recv_exact(length - 16)
            if body is None:
                return
            reply_op = OP_QUERY if opcode == OP_QUERY else OP_MSG
            try:
                if opcode not in (OP_QUERY, OP_MSG):
                    raise CommandError(352, 'UnsupportedOpQueryCommand',
                                       'unsupported opcode %d' % opcode)
                try:
                    req = mockupdb.OPCODES[opcode].unpack(body, None, None, request_id)
                    cmd = req.doc
                    db = req.namespace or 'admin'
                    if opcode == OP_QUERY and '$query' in cmd:
                        cmd = cmd['$query']
                except CommandError:
                    raise
                except Exception as e:
                    raise CommandError(22, 'InvalidBSON', 'could not decode message: %s' % e)
                if not isinstance(cmd, dict) or not cmd:
                    raise CommandError(22, 'InvalidBSON', 'empty command')
                reply = STORE.run(cmd, db.split('.')[0], conn_id)
            except CommandError as e:
                reply = error_doc(e.code, e.code_name, str(e))
            except Exception as e:  # a bug here must not hang the client
                reply = error_doc(1, 'InternalError', '%s: %s' % (type(e).__name__, e))
            self.request.sendall(reply_bytes(reply_op, request_id, reply))


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global STORE
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--pidfile')
    p.add_argument('--dbpath')
    args = p.parse_args()
    # Documents are trees: no reference cycles to collect, and with
    # hundreds of thousands of them the cyclic collector's full passes
    # would dominate the run time.
    gc.disable()
    STORE = Store(args.port)
    if args.dbpath and os.path.exists(args.dbpath):
        with open(args.dbpath, 'rb') as f:
            STORE.dbs = pickle.load(f)
    server = Server((args.host, args.port), Handler)
    if args.pidfile:
        with open(args.pidfile, 'w') as f:
            f.write('%d\n' % os.getpid())

    def stop(*unused):
        if args.dbpath:
            with STORE.lock:
                with open(args.dbpath + '.tmp', 'wb') as f:
                    pickle.dump(STORE.dbs, f, protocol=pickle.HIGHEST_PROTOCOL)
                os.rename(args.dbpath + '.tmp', args.dbpath)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stdout.write('listening on %s:%d\n' % (args.host, args.port))
    sys.stdout.flush()
    server.serve_forever()


if __name__ == '__main__':
    main()

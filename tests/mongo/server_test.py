#!/usr/bin/python3
# server_test.py
#    Tests of the MongoDB-wire test server itself (server.py).
#
# Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
#
# Starts the server on a free port and checks, through raw sockets and
# pymongo: the legacy OP_QUERY hello and OP_MSG; an error reply (not a
# hang) for a message that cannot be decoded; UUID subtypes 3 and 4 and
# dates outside Python's range read back byte for byte; upserts by _id
# that do not slow down as the collection grows; getMore over a large
# result; saving and loading with --dbpath across a restart.
#
# Usage: server_test.py [PORT]   (default 55479)

import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid

import bson
import pymongo
from bson.binary import Binary, UuidRepresentation
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 55479
RAW = CodecOptions(document_class=RawBSONDocument,
                   uuid_representation=UuidRepresentation.UNSPECIFIED)


def start(dbpath):
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, 'server.py'), '--port',
                             str(PORT), '--dbpath', dbpath], stdout=subprocess.PIPE)
    line = proc.stdout.readline().decode()
    assert 'listening' in line, line
    return proc


def stop(proc):
    proc.terminate()
    proc.wait(10)


def roundtrip(sock, opcode, body, request_id=7):
    sock.sendall(struct.pack('<iiii', 16 + len(body), request_id, 0, opcode) + body)
    header = b''
    while len(header) < 16:
        chunk = sock.recv(16 - len(header))
        assert chunk, 'connection closed without a reply'
        header += chunk
    length, _, response_to, reply_op = struct.unpack('<iiii', header)
    assert response_to == request_id
    rest = b''
    while len(rest) < length - 16:
        rest += sock.recv(length - 16 - len(rest))
    if reply_op == 1:  # OP_REPLY
        return bson.decode(rest[20:])
    assert reply_op == 2013
    return bson.decode(rest[5:])


def check(name, cond, detail=''):
    if not cond:
        print('server_test: FAIL: %s %s' % (name, detail), file=sys.stderr)
        sys.exit(1)
    print('server_test: ok: %s' % name)


def main():
    work = tempfile.mkdtemp(prefix='mongo-server-test.')
    dbpath = os.path.join(work, 'db')
    proc = start(dbpath)
    try:
        with socket.create_connection(('127.0.0.1', PORT), 5) as s:
            s.settimeout(5)
            q = struct.pack('<i', 0) + b'admin.$cmd\x00' + struct.pack('<ii', 0, -1) + \
                bson.encode({'isMaster': 1})
            r = roundtrip(s, 2004, q)
            check('hello over OP_QUERY', r.get('ismaster') is True and r['maxWireVersion'] >= 6, r)
            m = struct.pack('<I', 0) + b'\x00' + bson.encode({'hello': 1, '$db': 'admin'})
            r = roundtrip(s, 2013, m)
            check('hello over OP_MSG', r.get('isWritablePrimary') is True and r['ok'] == 1.0, r)
            r = roundtrip(s, 2013, struct.pack('<I', 0) + b'\x00' + b'\x30\x00\x00\x00garbage')
            check('error reply for an undecodable OP_MSG', r['ok'] == 0.0 and 'decode' in r['errmsg'], r)
            r = roundtrip(s, 2013, struct.pack('<I', 0) + b'\x00' + bson.encode({'nosuch': 1, '$db': 'x'}))
            check('error reply for an unknown command', r['ok'] == 0.0 and r['code'] == 59, r)

        client = pymongo.MongoClient('mongodb://127.0.0.1:%d/' % PORT,
                                     uuidRepresentation='unspecified', directConnection=True)
        u = uuid.UUID('00112233-4455-6677-8899-aabbccddeeff')
        far = struct.pack('<q', 2 ** 63 - 1)
        raw = bson.encode({'_id': Binary(u.bytes, 4), 'legacy': Binary(u.bytes, 3)})
        raw = raw[:-1] + b'\x09far\x00' + far + b'\x00'
        raw = struct.pack('<i', len(raw)) + raw[4:]
        with socket.create_connection(('127.0.0.1', PORT), 5) as s:
            s.settimeout(5)
            section = b'documents\x00' + raw
            body = struct.pack('<I', 0) + b'\x00' + bson.encode({'insert': 'c', '$db': 't'}) + \
                b'\x01' + struct.pack('<i', 4 + len(section)) + section
            r = roundtrip(s, 2013, body)
            check('insert with a document sequence', r['ok'] == 1.0 and r['n'] == 1, r)
        back = client.t.get_collection('c', codec_options=RAW).find_one({'_id': Binary(u.bytes, 4)})
        check('UUID subtypes and far dates read back byte for byte',
              back is not None and back.raw == raw, back is not None and back.raw.hex())

        big = client.t.big
        big.insert_many([{'_id': i, 'v': i} for i in range(100000)])

        def upserts(lo):
            t = time.perf_counter()
            ops = [pymongo.ReplaceOne({'_id': i}, {'_id': i, 'v': -i}, upsert=True)
                   for i in range(lo, lo + 5000)]
            big.bulk_write(ops)
            return time.perf_counter() - t
        small = client.t.small
        t0 = time.perf_counter()
        small.bulk_write([pymongo.ReplaceOne({'_id': i}, {'_id': i}, upsert=True) for i in range(5000)])
        t_small = time.perf_counter() - t0
        t_big = upserts(50000)
        check('upserts by _id do not scan (100,000 documents: %.2f s, empty: %.2f s)'
              % (t_big, t_small), t_big < 3 * t_small + 0.5)
        n = sum(1 for _ in big.find({}, batch_size=1000))
        check('getMore over 100,000 documents', n == 100000, n)
        check('equality filters', big.count_documents({'v': -50001}) == 1)
        big.delete_many({})
        check('deleteMany {}', big.estimated_document_count() == 0)

        stop(proc)
        proc = start(dbpath)
        back = client.t.get_collection('c', codec_options=RAW).find_one({'_id': Binary(u.bytes, 4)})
        check('--dbpath keeps the data across a restart', back is not None and back.raw == raw)
    finally:
        stop(proc)
    print('server_test: OK')


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
# A stand-in for journald in tests: listens on a journal socket (the
# native protocol: KEY=value lines, or KEY\n<le64 length><bytes>\n) and
# writes each record as one JSON line to OUT, with the sender's pid
# (_PID, from its credentials) as journald would add it. With --export
# FILE it also appends each record in the journal export format, with
# __REALTIME_TIMESTAMP, _PID and _HOSTNAME (--hostname, default this
# machine's), so that `systemd-journal-remote -o DIR/x.journal FILE`
# turns the records into journal files that sd_journal reads.
# OUT.ready appears once the socket is bound.
# usage: jrecv.py SOCKET OUT [--export FILE] [--hostname NAME]
import argparse, json, os, socket, struct, time

ap = argparse.ArgumentParser()
ap.add_argument("socket")
ap.add_argument("out")
ap.add_argument("--export")
ap.add_argument("--hostname", default=socket.gethostname())
a = ap.parse_args()

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(a.socket)
os.chmod(a.socket, 0o666)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
open(a.out + ".ready", "w").close()


def export_field(k, v):
    if b"\n" in v:
        return k + b"\n" + struct.pack("<Q", len(v)) + v + b"\n"
    return k + b"=" + v + b"\n"


while True:
    d, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(12))
    fields, i = [], 0
    while i < len(d):
        nl = d.index(b"\n", i)
        line = d[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            n = struct.unpack("<Q", d[nl + 1:nl + 9])[0]
            v = d[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        fields.append((k, v))
    pid = None
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = str(struct.unpack("iII", data[:12])[0])
    rec = {k.decode(): v.decode("utf-8", "replace") for k, v in fields}
    if pid is not None:
        rec["_PID"] = pid
    with open(a.out, "a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")
    if a.export:
        e = b"__REALTIME_TIMESTAMP=%d\n" % int(time.time() * 1000000)
        e += b"_HOSTNAME=" + a.hostname.encode() + b"\n"
        if pid is not None:
            e += b"_PID=" + pid.encode() + b"\n"
        for k, v in fields:
            if not k.startswith(b"_"):
                e += export_field(k, v)
        with open(a.export, "ab") as f:
            f.write(e + b"\n")

"""A bounded storm of malformed HTTP requests against the CA daemon's Unix
socket (run by tests/e2e/ca_storm.sh as the requester). Prints a status
histogram; exits 1 on any answer that is a success, a 5xx, or a daemon
that stops answering. Usage: storm.py SOCKET PUBKEY COUNT SECONDS"""
import json, random, socket, sys, time

sock_path, pub, count, budget = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
rnd = random.Random(13)
deadline = time.monotonic() + budget
hist, bad = {}, []


def exchange(raw, timeout=10.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        try:
            s.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-body (413): the answer may still be there
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data
    finally:
        s.close()


def req(method, path, body=None, headers=()):
    h = [f"{method} {path} HTTP/1.1".encode("latin-1", "replace"), b"Host: ca", b"Connection: close"]
    h += list(headers)
    if body is not None:
        h.append(b"Content-Type: application/json")
        h.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(h) + b"\r\n\r\n" + (body or b"")


good = {"task": "ping", "hosts": ["web01.example.com"], "public_key": pub}
ID = "r-" + "0" * 16


def cases():
    j = lambda o: json.dumps(o).encode()
    yield "badjson", req("POST", "/v1/requests", b'{"task": "ping", ')
    yield "badjson", req("POST", "/v1/requests", bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300))))
    yield "badjson", req("POST", "/v1/requests", b"[]")
    yield "badjson", req("POST", "/v1/requests", b'"x"')
    yield "badjson", req("POST", "/v1/requests", b"")
    yield "badjson", req("POST", "/v1/requests", b"{" * 5000)
    for k, v in (("task", 1), ("task", None), ("hosts", "web01.example.com"), ("hosts", [1]),
                 ("hosts", [None]), ("ttl", 600), ("ttl", "-1m"), ("ttl", "9999999999h"),
                 ("reason", {}), ("public_key", ["x"]), ("public_key", "ssh-dss AAAA"),
                 ("public_key", "ssh-ed25519 !!!!"), ("public_key", "-----BEGIN OPENSSH PRIVATE KEY-----"),
                 ("hosts", []), ("hosts", ["x" * 5000]), ("task", "ping\u0000x"),
                 ("public_key", pub + "\u0000"), ("login_as", 7), ("hosts", ["web01.example.com"] * 10000)):
        o = dict(good)
        o[k] = v
        yield "type", req("POST", "/v1/requests", j(o))
    o = dict(good)
    o["zzz_unknown"] = 1
    yield "unknown-field", req("POST", "/v1/requests", j(o))
    o = dict(good)
    del o[rnd.choice(["task", "hosts", "public_key"])]
    yield "missing", req("POST", "/v1/requests", j(o))
    yield "nul", req("POST", "/v1/requests", j(good).replace(b'"ping"', b'"pi\x00ng"'))
    yield "nul", req("GET", "/v1/requests/r-00000000\x0000000000")
    # libmicrohttpd ends the path at a NUL: this reads as an unknown id.
    yield "nul", b"GET /v1/requests/r-0000000000000000\x00/approve HTTP/1.1\r\nHost: ca\r\n\r\n"
    yield "unknown-id", req("GET", "/v1/requests/" + ID)
    for a in ("approve", "deny", "cancel", "revoke", "review"):
        yield "unknown-id", req("POST", f"/v1/requests/{ID}/{a}", b"{}")
    for p in ("/v1/requests/nonsense", "/v1/requests/r-123", "/v1/requests/r-" + "g" * 16,
              "/v1/requests/" + "r-" + "a" * 5000, "/v1/requests/%2e%2e/x", "/v1/requests/../../etc",
              "/v1/requests/r-0000000000000000/bogus", "/v1/requests?state=bogus", "/v1/audit?since=-1",
              "/v1/requests?mine=%00", "/v1/nope", "//v1//requests", "/v1/requests/r-0000000000000000/approve/x"):
        yield "bad-path", req("POST" if rnd.random() < 0.5 else "GET", p, b"{}" if rnd.random() < 0.5 else None)
    yield "method", req("DELETE", "/v1/requests/" + ID)
    yield "method", req("PUT", "/v1/requests", j(good))
    yield "header", req("GET", "/v1/requests/" + ID, None, [b"X-Big: " + b"a" * 200000])
    yield "header", req("GET", "/v1/requests", None, [b"X-%d: y" % i for i in range(3000)])
    yield "ctype", b"POST /v1/requests HTTP/1.1\r\nHost: ca\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    yield "length", b"POST /v1/requests HTTP/1.1\r\nHost: ca\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999\r\nConnection: close\r\n\r\n{}"
    yield "length", b"POST /v1/requests HTTP/1.1\r\nHost: ca\r\nContent-Type: application/json\r\nContent-Length: -5\r\nConnection: close\r\n\r\n{}"
    yield "garbage", bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 2000)))


def status_of(data):
    if not data.startswith(b"HTTP/1."):
        return None
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


n = 0
start = time.monotonic()
# Slow clients: half-sent requests held open during the storm.
slow = []
for i in range(30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.sendall(b"POST /v1/requests HTTP/1.1\r\nHost: ca\r\nContent-Type: application/json\r\nContent-Len" if i % 2
              else b"POST /v1/requests HTTP/1.1\r\nHost: ca\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"task\"")
    slow.append(s)
big = b'{"task": "' + b"x" * (10 * 1024 * 1024) + b'"}'
for i in range(5):
    d = exchange(req("POST", "/v1/requests", big), 30)
    st = status_of(d)
    hist[("10MB", st)] = hist.get(("10MB", st), 0) + 1
    if st is not None and st != 413 and st != 400:
        bad.append(("10MB", st))
    n += 1
while n < count and time.monotonic() < deadline:
    for kind, raw in cases():
        if n >= count or time.monotonic() >= deadline:
            break
        try:
            # Bytes that are not HTTP may get no answer until the
            # slow-client timeout: not waited for.
            d = exchange(raw, 0.3 if kind == "garbage" else 10.0)
        except socket.timeout:
            if kind != "garbage":
                bad.append((kind, "timeout"))
            hist[(kind, "timeout")] = hist.get((kind, "timeout"), 0) + 1
            n += 1
            continue
        st = status_of(d)
        hist[(kind, st)] = hist.get((kind, st), 0) + 1
        # No answer is fine only for bytes that are not HTTP; a success
        # or a server error never.
        if st is not None and (st < 400 or st >= 500):
            bad.append((kind, st, raw[:120]))
        n += 1
for s in slow:
    s.close()
for k in sorted(hist, key=str):
    print(f"  {k[0]:14} {k[1]}: {hist[k]}")
print(f"storm: {n} requests in {time.monotonic() - start:.1f} s")
if bad:
    for b in bad[:10]:
        print("BAD", b)
    sys.exit(1)

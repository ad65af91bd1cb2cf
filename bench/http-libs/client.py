#!/usr/bin/env python3
"""client.py: small, bounded HTTP/1.1 clients for bench/http-libs/run.sh (loopback only).

  client.py seq   PORT N BODY         N sequential keep-alive POSTs on one connection; checks each is 202
  client.py pipe  PORT BODY           8 POSTs + a 404 + 8 POSTs in one write; checks replies come in order
  client.py trickle PORT BODY         the headers one byte per send; checks the reply is still 202
  client.py idle  PORT PID N BODY     RSS of PID: idle, with N open idle connections, then after one request each
  client.py probe PORT                limits and request-smuggling probes; prints what the server answered
"""
import socket
import sys
import time

PATH = "/api/v1/signals/prometheus"
TIMEOUT = 5.0


def request(body, path=PATH, extra=""):
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n")
    return head.encode() + body


class Reader:
    """Reads Content-Length-framed responses from a socket."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def response(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, body


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def cmd_seq(port, n, body_file):
    body = open(body_file, "rb").read()
    req = request(body)
    s = connect(port)
    r = Reader(s)
    for i in range(int(n)):
        s.sendall(req)
        status, reply = r.response()
        if status != 202 or b'"alerts":2' not in reply:
            sys.exit(f"seq: request {i}: {status} {reply!r}")
    s.close()
    print(f"seq: {n} requests ok")


def cmd_pipe(port, body_file):
    body = open(body_file, "rb").read()
    wire = request(body) * 8 + request(b"{}", path="/other") + request(body) * 8
    s = connect(port)
    s.sendall(wire)
    r = Reader(s)
    got = [r.response()[0] for _ in range(17)]
    want = [202] * 8 + [404] + [202] * 8
    print(f"pipe: {got}")
    if got != want:
        sys.exit("pipe: replies out of order or wrong")


def cmd_trickle(port, body_file):
    """Headers one byte per send (so values split across reads), then the body: must still be 202."""
    body = open(body_file, "rb").read()
    wire = request(body, extra="X-Words: several words with spaces\r\n")
    head_len = wire.index(b"\r\n\r\n") + 4
    s = connect(port)
    for i in range(head_len):
        s.send(wire[i:i + 1])
        time.sleep(0.002)
    s.sendall(wire[head_len:])
    status, _ = Reader(s).response()
    print(f"trickle: {status}")
    if status != 202:
        sys.exit("trickle: a request split across reads was refused")


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def cmd_idle(port, pid, n, body_file):
    body = open(body_file, "rb").read()
    idle = rss_kib(pid)
    socks = [connect(port) for _ in range(int(n))]
    time.sleep(1.0)
    conns = rss_kib(pid)
    for s in socks:  # one request each, then the connections stay open, idle, keep-alive
        s.sendall(request(body))
    for s in socks:
        status, _ = Reader(s).response()
        if status != 202:
            sys.exit(f"idle: got {status}")
    time.sleep(1.0)
    after = rss_kib(pid)
    for s in socks:
        s.close()
    print(f"rss_kib idle={idle} conns{n}={conns} conns{n}_after_request={after}")


def probe(port, wire, wait=1.0):
    """Send raw bytes; return the replies' statuses and how the connection ended. A 400 that came from the
    handler (the parser accepted the request, the JSON was not a webhook) is shown as 400h."""
    s = connect(port)
    s.settimeout(wait)
    out, end = b"", "open"
    try:
        for part in wire if isinstance(wire, list) else [wire]:  # a list: parts sent 50 ms apart
            s.sendall(part)
            time.sleep(0.05 if isinstance(wire, list) else 0)
        while True:
            data = s.recv(65536)
            if not data:
                end = "closed"
                break
            out += data
    except socket.timeout:
        pass
    except OSError as e:
        end = "reset" if isinstance(e, ConnectionResetError) else e.__class__.__name__
    s.close()
    replies = out.decode("latin-1").split("HTTP/1.1 ")[1:]
    codes = [r[:3] + ("h" if "Alertmanager webhook" in r else "") for r in replies]
    return f"{' '.join(codes) or '-'} [{end}]"


def chunked(data):
    return f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n"


def cmd_probe(port):
    p = int(port)
    small = b'{"alerts":[]}'  # a valid webhook for the handler: 202
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\n"
    cases = {
        "header 16 KiB (want 431)": request(small, extra="X-Pad: " + "a" * 16384 + "\r\n"),
        "header 64 KiB (want 431)": request(small, extra="X-Pad: " + "a" * 65536 + "\r\n"),
        "Content-Length 2 MiB, 64 KiB sent (want 413)":
            (head + f"Content-Length: {2 << 20}\r\n\r\n").encode() + b"{" * 65536,
        "chunked body 2 MiB (want 413)":
            (head + "Transfer-Encoding: chunked\r\n\r\n").encode()
            + b"".join(b"10000\r\n" + b" " * 65536 + b"\r\n" for _ in range(33)) + b"0\r\n\r\n",
        "CL + TE chunked, then GET (want 400)":
            (head + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n").encode() + chunked(small) + smuggled,
        "two different Content-Length (want 400)":
            (head + "Content-Length: 13\r\nContent-Length: 52\r\n\r\n").encode() + small + smuggled,
        "TE: chunked, identity (want 400/501)":
            (head + "Transfer-Encoding: chunked, identity\r\n\r\n").encode() + chunked(small),
        "TE: identity, chunked (RFC: chunked)":
            (head + "Transfer-Encoding: identity, chunked\r\n\r\n").encode() + chunked(small),
        "space before colon (want 400)":
            (head + "Content-Length : 13\r\n\r\n").encode() + small,
        "bare LF line ends (400 or accept)":
            f"POST {PATH} HTTP/1.1\nHost: x\nContent-Length: 13\n\n".encode() + small,
        "obs-fold header (400 or accept)":
            (head + "X-A: a\r\n b\r\nContent-Length: 13\r\n\r\n").encode() + small,
        "obs-fold split after the CRLF (want 400)":
            [(head + "X-A: a\r\n").encode(), b" b\r\nContent-Length: 13\r\n\r\n" + small],
        "obs-fold split inside the CRLF (want 400)":
            [(head + "X-A: a\r").encode(), b"\n b\r\nContent-Length: 13\r\n\r\n" + small],
        # fixed in llhttp 8.1.1+ / 9.x, after Debian 12's 8.1.0 (Node.js security releases)
        "CR-only in empty header (CVE-2023-30589)":
            (head + "X-Abc: \rxTransfer-Encoding: chunked\r\nContent-Length: 13\r\n\r\n").encode() + small,
        "SP-folded Content-Length (CVE-2024-27982)":
            (head + "Content-Length: 13\r\n Content-Length: 52\r\n\r\n").encode() + small + smuggled,
        "empty Transfer-Encoding (llhttp < 9.4.3)":
            (head + "Transfer-Encoding:\r\n\r\n").encode() + smuggled,
        "chunk extension 1 MiB (CVE-2024-22019)":
            (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"d;a=" + b"b" * (1 << 20),
    }
    for name, wire in cases.items():
        print(f"{name:45s} -> {probe(p, wire)}")


if __name__ == "__main__":
    cmds = {"seq": cmd_seq, "pipe": cmd_pipe, "trickle": cmd_trickle, "idle": cmd_idle, "probe": cmd_probe}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])

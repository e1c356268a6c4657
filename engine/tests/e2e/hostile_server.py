"""A hostile HTTP target for end-to-end tests: a small server on 127.0.0.1
that misbehaves on demand (standard library only).

The behaviour is chosen by a startup flag (``mode``, for every connection)
or, without one, by the first segment of each request's path (``/silent``,
``/endless-body``...). Behaviours that act before a request is read
(``silent``, ``early-answer``, ``h2-preface``) need the flag.

    server = HostileServer("slow-body")       # or HostileServer() for paths
    server.url                                 # http://127.0.0.1:PORT
    server.requests                            # {"GET": 12, ...} requests read
    server.close()

As a program, for trying a behaviour by hand:

    python3 hostile_server.py MODE [--tls self-signed|expired|trusted]

Every behaviour ends its connection when the server is closed, and nothing
it sends grows without bound in this process: the endless ones write the
same buffer again.
"""
import argparse
import os
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
BLOCK = b"x" * 65536


class Closed(Exception):
    """The client went away or the server is closing."""


class Conn:
    """One accepted connection: blocking I/O in short slices so that a
    closing server is noticed within a fraction of a second."""

    def __init__(self, server, sock):
        self.server = server
        self.sock = sock
        self.buf = b""
        sock.settimeout(0.2)

    def send(self, data):
        view = memoryview(data)
        while view:
            if self.server.stopping.is_set():
                raise Closed()
            try:
                n = self.sock.send(view)
            except socket.timeout:
                continue
            except (OSError, ssl.SSLError):
                raise Closed() from None
            view = view[n:]

    def trickle(self, data, every):
        """Sends DATA one byte at a time, EVERY seconds apart."""
        for i in range(len(data)):
            self.send(data[i:i + 1])
            self.sleep(every)

    def sleep(self, seconds):
        if self.server.stopping.wait(seconds):
            raise Closed()

    def recv(self):
        while True:
            if self.server.stopping.is_set():
                raise Closed()
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (OSError, ssl.SSLError):
                raise Closed() from None
            if not data:
                raise Closed()
            return data

    def read_request(self):
        """(method, path) of the next request, its body read and dropped."""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.recv()
            if len(self.buf) > 1 << 20:
                raise Closed()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, path = (lines[0].split(" ") + ["", ""])[:2]
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip() or 0)
        while len(self.buf) < length:
            self.buf += self.recv()
        self.buf = self.buf[length:]
        self.server.count(method)
        return method, path

    def hold(self):
        """Keeps the connection open, reading and ignoring, until closed."""
        while True:
            self.recv()

    def reset(self):
        """Ends the connection with a TCP RST instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        raise Closed()


# ---- behaviours: each serves one connection -------------------------------
# Called after the first request was read when chosen by path (FIRST is its
# (method, path)); with FIRST None when chosen by the startup flag, in which
# case they read requests themselves.

def ok(c, first):
    while True:
        if first is None:
            c.read_request()
        first = None
        c.send(OK)


def silent(c, first):
    """Accepts and never answers (nor reads)."""
    c.sleep(3600)


def read_silent(c, first):
    """Reads the request, never answers."""
    c.hold()


def slow_status(c, first):
    """Slowloris in the status line: one byte per 100 ms, never ending."""
    first or c.read_request()
    c.trickle(b"HTTP/1.1 200 OK" + b" still coming" * 1000, 0.1)


def slow_headers(c, first):
    first or c.read_request()
    c.send(b"HTTP/1.1 200 OK\r\n")
    c.trickle(b"X-Slow: yes\r\n" * 10000, 0.05)


def slow_body(c, first):
    first or c.read_request()
    c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
    c.trickle(b"." * 1000000, 0.05)


def endless_body(c, first):
    """A close-delimited body that never ends, as fast as it can go."""
    first or c.read_request()
    c.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
    while True:
        c.send(BLOCK)


def endless_chunked(c, first):
    first or c.read_request()
    c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n" % len(BLOCK) + BLOCK + b"\r\n"
    while True:
        c.send(chunk)


def big_body(c, first):
    """A 2 MiB body, keep-alive."""
    body = b"b" * (2 << 20)
    while True:
        if first is None:
            c.read_request()
        first = None
        c.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def huge_header_line(c, first):
    """One header line of 1 MB."""
    first or c.read_request()
    c.send(b"HTTP/1.1 200 OK\r\nX-Huge: " + b"h" * (1 << 20) + b"\r\nContent-Length: 2\r\n\r\nok")
    c.hold()


def many_headers(c, first):
    """100,000 headers."""
    first or c.read_request()
    c.send(b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(100000))
           + b"Content-Length: 2\r\n\r\nok")
    c.hold()


def bad_chunk(c, first):
    first or c.read_request()
    c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
    c.hold()


def chunk_overflow(c, first):
    first or c.read_request()
    c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"1ffffffffffffffffff\r\nhello\r\n0\r\n\r\n")
    c.hold()


def short_length(c, first):
    """Content-Length shorter than the body that follows (keep-alive)."""
    while True:
        if first is None:
            c.read_request()
        first = None
        c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok, and then some more bytes")


def long_length(c, first):
    """Content-Length longer than the body, then the connection closes."""
    first or c.read_request()
    c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")


def long_length_open(c, first):
    """Content-Length longer than the body; the connection stays open."""
    first or c.read_request()
    c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
    c.hold()


def conflicting_length(c, first):
    first or c.read_request()
    c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello")
    c.hold()


def _body_on(status):
    def serve(c, first):
        while True:
            if first is None:
                c.read_request()
            first = None
            c.send(b"HTTP/1.1 %s\r\nContent-Length: 5\r\n\r\nhello" % status)
    return serve


def head_body(c, first):
    """Answers HEAD with the body a GET would get."""
    while True:
        if first is None:
            c.read_request()
        first = None
        c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")


def interim(c, first):
    """100 and 103 before each real response."""
    while True:
        if first is None:
            c.read_request()
        first = None
        c.send(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
               + OK)


def endless_interim(c, first):
    first or c.read_request()
    while True:
        c.send(b"HTTP/1.1 100 Continue\r\n\r\n" * 64)


def http10(c, first):
    """HTTP/1.0, a body delimited by closing the connection."""
    first or c.read_request()
    c.send(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"y" * 5000)


def early_answer(c, first):
    """Answers before reading the request, then closes."""
    c.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
    c.sleep(0.05)  # let the request arrive: closing with it unread would reset


def reset_mid_body(c, first):
    first or c.read_request()
    c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"z" * 100)
    c.sleep(0.02)
    c.reset()


def garbage(c, first):
    first or c.read_request()
    c.send(b"\x00\xffSSH-2.0-OpenSSH_9.0 nothing like HTTP\r\n\r\n")
    c.hold()


def h2_preface(c, first):
    """What an HTTP/2-only server sends first: a SETTINGS frame, then GOAWAY."""
    settings = struct.pack(">I", 6)[1:] + b"\x04\x00" + struct.pack(">I", 0) + b"\x00\x03\x00\x00\x00\x64"
    goaway = struct.pack(">I", 8)[1:] + b"\x07\x00" + struct.pack(">I", 0) + struct.pack(">II", 0, 1)
    c.send(settings + goaway)
    c.sleep(0.2)


def close_after_read(c, first):
    """Answers the first request of a connection; reads the second and
    closes without a word (a server that drops an idle connection as a
    request arrives looks the same to the client)."""
    if first is None:
        c.read_request()
    c.send(OK)
    c.read_request()


BEHAVIOURS = {
    "ok": ok,
    "silent": silent,
    "read-silent": read_silent,
    "slow-status": slow_status,
    "slow-headers": slow_headers,
    "slow-body": slow_body,
    "endless-body": endless_body,
    "endless-chunked": endless_chunked,
    "big-body": big_body,
    "huge-header-line": huge_header_line,
    "many-headers": many_headers,
    "bad-chunk": bad_chunk,
    "chunk-overflow": chunk_overflow,
    "short-length": short_length,
    "long-length": long_length,
    "long-length-open": long_length_open,
    "conflicting-length": conflicting_length,
    "body-on-204": _body_on(b"204 No Content"),
    "body-on-304": _body_on(b"304 Not Modified"),
    "head-body": head_body,
    "interim": interim,
    "endless-interim": endless_interim,
    "http10": http10,
    "early-answer": early_answer,
    "reset-mid-body": reset_mid_body,
    "garbage": garbage,
    "h2-preface": h2_preface,
    "close-after-read": close_after_read,
}


class HostileServer:
    """Serves BEHAVIOURS[mode] on every connection (mode None: by path) on
    127.0.0.1, a free port, one thread per connection; with TLS from the
    given ssl.SSLContext. close() ends everything within about a second."""

    def __init__(self, mode=None, tls=None):
        if mode is not None and mode not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {mode!r}; one of {sorted(BEHAVIOURS)}")
        self.mode = mode
        self.tls = tls
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.requests = {}
        self.connections = 0
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1024)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.threads = []
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def count(self, method):
        with self.lock:
            self.requests[method] = self.requests.get(method, 0) + 1

    def _accept(self):
        while not self.stopping.is_set():
            try:
                sock, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            with self.lock:
                self.connections += 1
                self.threads = [t for t in self.threads if t.is_alive()]
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, sock):
        try:
            if self.tls is not None:
                sock.settimeout(2)
                sock = self.tls.wrap_socket(sock, server_side=True)
            c = Conn(self, sock)
            if self.mode is not None:
                BEHAVIOURS[self.mode](c, None)
            else:
                first = c.read_request()
                name = first[1].lstrip("/").split("/")[0].split("?")[0]
                BEHAVIOURS.get(name, ok)(c, first)
        except (Closed, OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def close(self):
        self.stopping.set()
        self.listener.close()
        self.accepter.join(2)
        for t in list(self.threads):
            t.join(2)


# ---- certificates ---------------------------------------------------------

def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(folder):
    """Writes, in FOLDER, a CA (ca.pem) and three server certificates for
    127.0.0.1 with their keys: self-signed.pem (signed by itself), and,
    signed by the CA, trusted.pem (valid) and expired.pem (valid only in
    2020). Returns FOLDER. A client trusts the CA through SSL_CERT_FILE."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=loadpilot test CA",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=folder)
    _openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", "self-signed.key", "-out", "self-signed.pem", cwd=folder)
    with open(os.path.join(folder, "san.cnf"), "w") as f:
        f.write("[ext]\nsubjectAltName=IP:127.0.0.1\n")
    with open(os.path.join(folder, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca=x\n[x]\ndir=.\ndatabase=index.txt\nnew_certs_dir=.\n"
                "serial=serial\ndefault_md=sha256\nunique_subject=no\npolicy=p\n"
                "[p]\ncommonName=supplied\n")
    open(os.path.join(folder, "index.txt"), "w").close()
    with open(os.path.join(folder, "serial"), "w") as f:
        f.write("01\n")
    for name, dates in (("trusted", None), ("expired", ("20200101000000Z", "20200102000000Z"))):
        _openssl("req", "-new", *ec, "-subj", "/CN=127.0.0.1", "-keyout", f"{name}.key",
                 "-out", f"{name}.csr", cwd=folder)
        when = ["-days", "2"] if dates is None else ["-startdate", dates[0], "-enddate", dates[1]]
        _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
                 "-in", f"{name}.csr", "-out", f"{name}.pem", "-extfile", "san.cnf",
                 "-extensions", "ext", *when, cwd=folder)
    return folder


def tls_context(folder, which):
    """A server context presenting WHICH (self-signed, trusted, expired)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(folder, f"{which}.pem"), os.path.join(folder, f"{which}.key"))
    return ctx


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", choices=sorted(BEHAVIOURS),
                        help="behaviour for every connection (default: chosen by path)")
    parser.add_argument("--tls", choices=["self-signed", "trusted", "expired"])
    parser.add_argument("--for", dest="seconds", type=float, default=600,
                        help="stop after this many seconds (default 600)")
    args = parser.parse_args()
    tls = None
    with tempfile.TemporaryDirectory() as folder:
        if args.tls:
            tls = tls_context(make_certs(folder), args.tls)
        server = HostileServer(args.mode, tls)
        print(f"listening on {server.url}", flush=True)
        try:
            time.sleep(args.seconds)
        except KeyboardInterrupt:
            pass
        server.close()
        print(f"requests read: {server.requests}")


if __name__ == "__main__":
    main()

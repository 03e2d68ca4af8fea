"""Fake forward proxies for the proxy-url tests: an HTTP CONNECT proxy and a
SOCKS5 proxy (RFC 1928, user/password per RFC 1929). Both listen on
127.0.0.1 (ephemeral port), serve each connection in a thread, record what
the client asked for, then splice bytes both ways to the target. close()
stops every thread and socket.

Python 3 standard library only.
"""
import base64
import select
import socket
import struct
import threading
import time

IO_TIMEOUT = 5


class _Base:
    def __init__(self):
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = []
        self.socks = []
        self.errors = []
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.name = "127.0.0.1:%d" % self.port
        self._spawn(self._accept_loop)

    def _spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        with self.lock:
            self.threads.append(t)
        t.start()

    def _track(self, s):
        with self.lock:
            self.socks.append(s)
        return s

    def _accept_loop(self):
        while not self.stop.is_set():
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._track(s)
            s.settimeout(IO_TIMEOUT)
            self._spawn(self._guarded, s)

    def _guarded(self, s):
        try:
            self.handle(s)
        except Exception as e:   # recorded; the test decides
            with self.lock:
                self.errors.append(repr(e))
        finally:
            try:
                s.close()
            except OSError:
                pass

    def _recv_exact(self, s, n):
        out = b""
        while len(out) < n:
            d = s.recv(n - len(out))
            if not d:
                raise EOFError("client closed after %d of %d bytes" % (len(out), n))
            out += d
        return out

    def _dial(self, host, port):
        """A connection to the target, or an OSError."""
        t = socket.create_connection((host, port), timeout=IO_TIMEOUT)
        return self._track(t)

    def splice(self, a, b, pending=b""):
        """Copy both ways until both sides have closed or stop is set."""
        if pending:
            b.sendall(pending)
        a.setblocking(False)
        b.setblocking(False)
        peer = {a: b, b: a}
        open_ = {a, b}
        while open_ and not self.stop.is_set():
            r, _, _ = select.select(list(open_), [], [], 0.2)
            for s in r:
                try:
                    d = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    d = b""
                o = peer[s]
                if not d:
                    open_.discard(s)
                    try:
                        o.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                try:
                    o.setblocking(True)
                    o.settimeout(IO_TIMEOUT)
                    o.sendall(d)
                    o.setblocking(False)
                except OSError:
                    open_.clear()
        for s in (a, b):
            try:
                s.close()
            except OSError:
                pass

    def close(self):
        self.stop.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        # shutdown, unlike close, wakes a thread blocked in recv.
        with self.lock:
            socks = list(self.socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        end = time.monotonic() + 5
        while True:
            with self.lock:
                threads = [t for t in self.threads if t.is_alive()]
            if not threads or time.monotonic() > end:
                break
            threads[0].join(max(0.01, end - time.monotonic()))
        for s in socks:
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class ConnectRecord:
    def __init__(self, line, headers):
        self.line = line            # "CONNECT host:port HTTP/1.1"
        self.headers = headers      # list of (name, value)

    def all(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def header(self, name):
        v = self.all(name)
        return v[0] if v else None

    def __repr__(self):
        return "<CONNECT %r %r>" % (self.line, self.headers)


class FakeConnectProxy(_Base):
    """HTTP proxy answering CONNECT. creds=(user, password) requires
    Proxy-Authorization: Basic with exactly those (407 otherwise); answer
    ("403 Forbidden") refuses every CONNECT with that status."""

    def __init__(self, creds=None, answer=None):
        self.creds = creds
        self.answer = answer
        self.requests = []
        self.tunnels = 0
        super().__init__()

    def _head(self, s):
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(4096)
            if not d:
                raise EOFError("client closed mid-head: %r" % buf)
            buf += d
            if len(buf) > 65536:
                raise ValueError("head too long")
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = []
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers.append((k, v.strip()))
        return ConnectRecord(lines[0], headers), rest

    def _say(self, s, status, extra=""):
        s.sendall(("HTTP/1.1 %s\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n"
                   % (status, extra)).encode())

    def handle(self, s):
        rec, rest = self._head(s)
        with self.lock:
            self.requests.append(rec)
        parts = rec.line.split(" ")
        if len(parts) != 3 or parts[0] != "CONNECT":
            self._say(s, "405 Method Not Allowed")
            return
        if self.answer:
            self._say(s, self.answer)
            return
        if self.creds:
            want = "Basic " + base64.b64encode(("%s:%s" % self.creds).encode()).decode()
            if rec.header("proxy-authorization") != want:
                self._say(s, "407 Proxy Authentication Required",
                          'Proxy-Authenticate: Basic realm="fake"\r\n')
                return
        host, _, port = parts[1].rpartition(":")
        host = host.strip("[]")
        try:
            t = self._dial(host, int(port))
        except (OSError, ValueError) as e:
            self._say(s, "502 Bad Gateway")
            with self.lock:
                self.errors.append("dial %s: %s" % (parts[1], e))
            return
        with self.lock:
            self.tunnels += 1
        # The TLS ClientHello may only follow the blank line.
        s.sendall(b"HTTP/1.1 200 Connection established\r\nProxy-Agent: fake\r\n\r\n")
        self.splice(s, t, rest)


class SocksRecord:
    def __init__(self):
        self.methods = None     # bytes offered in the greeting
        self.user = None
        self.password = None
        self.atyp = None        # 1 IPv4, 3 name, 4 IPv6
        self.host = None        # str: the name or the address
        self.port = None
        self.reply = None       # the reply code sent

    def __repr__(self):
        return "<SOCKS5 methods=%r user=%r atyp=%r host=%r port=%r reply=%r>" % (
            self.methods, self.user, self.atyp, self.host, self.port, self.reply)


class FakeSocks5Proxy(_Base):
    """SOCKS5 proxy. creds=(user, password) requires method 2 and those
    credentials (status 1 and close otherwise); without creds only method 0
    is accepted."""

    def __init__(self, creds=None):
        self.creds = creds
        self.requests = []
        self.tunnels = 0
        super().__init__()

    def handle(self, s):
        rec = SocksRecord()
        with self.lock:
            self.requests.append(rec)
        ver, n = self._recv_exact(s, 2)
        if ver != 5:
            return
        rec.methods = self._recv_exact(s, n)
        want = 2 if self.creds else 0
        if want not in rec.methods:
            s.sendall(b"\x05\xff")
            return
        s.sendall(bytes([5, want]))
        if self.creds:
            ver, ulen = self._recv_exact(s, 2)
            rec.user = self._recv_exact(s, ulen).decode("latin-1")
            plen = self._recv_exact(s, 1)[0]
            rec.password = self._recv_exact(s, plen).decode("latin-1")
            if ver != 1 or (rec.user, rec.password) != tuple(self.creds):
                s.sendall(b"\x01\x01")
                return
            s.sendall(b"\x01\x00")
        ver, cmd, _, atyp = self._recv_exact(s, 4)
        rec.atyp = atyp
        if atyp == 1:
            rec.host = socket.inet_ntop(socket.AF_INET, self._recv_exact(s, 4))
        elif atyp == 4:
            rec.host = socket.inet_ntop(socket.AF_INET6, self._recv_exact(s, 16))
        elif atyp == 3:
            rec.host = self._recv_exact(s, self._recv_exact(s, 1)[0]).decode("latin-1")
        else:
            self._reply(s, rec, 8)
            return
        rec.port = struct.unpack("!H", self._recv_exact(s, 2))[0]
        if ver != 5 or cmd != 1:
            self._reply(s, rec, 7)
            return
        try:
            t = self._dial(rec.host, rec.port)
        except ConnectionRefusedError:
            self._reply(s, rec, 5)
            return
        except OSError:
            self._reply(s, rec, 4)
            return
        with self.lock:
            self.tunnels += 1
        # A bound address given as a name, so the client must read a
        # variable-length reply exactly.
        self._reply(s, rec, 0, b"\x03\x09fake.bind" + struct.pack("!H", 1080))
        self.splice(s, t)

    def _reply(self, s, rec, code, bound=b"\x01\x00\x00\x00\x00\x00\x00"):
        rec.reply = code
        s.sendall(bytes([5, code, 0]) + bound)

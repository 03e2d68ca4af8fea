"""TLS session resumption across processes: the second connection process
resumes the session the first one saved in auth-dir, against a server that
keeps sessions (one that shuts TLS down cleanly, as real servers do)."""
import os
import socket
import ssl
import stat
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Case, check, droid_request, run, setup_pki  # noqa: E402


class CleanServer:
    """One request per connection, then close_notify: OpenSSL keeps the
    session only for connections that end cleanly."""

    def __init__(self, pki):
        cert, key = pki.cert("localhost")
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.port = self.ls.getsockname()[1]
        self.reused = []
        self.n = 0
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while True:
            try:
                raw, _ = self.ls.accept()
            except OSError:
                return
            raw.settimeout(5)
            try:
                s = self.ctx.wrap_socket(raw, server_side=True)
                self.reused.append(s.session_reused)
                buf = b""
                while b"\r\n\r\n" not in buf:
                    buf += s.recv(65536)
                head, body = buf.split(b"\r\n\r\n", 1)
                n = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                     if line.lower().startswith(b"content-length:")][0]
                while len(body) < n:
                    body += s.recv(65536)
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
                try:
                    s.unwrap()
                except (ssl.SSLError, OSError):
                    pass
                s.close()
            except (ssl.SSLError, OSError, IndexError):
                raw.close()

    def close(self):
        try:
            self.ls.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept
        except OSError:
            pass
        self.ls.close()
        self.t.join(5)


def test_second_process_resumes(ctx):
    srv = CleanServer(ctx["pki"])
    try:
        with Case(ctx["pki"], upstream=False, debug=True,
                  claude_base_url="https://localhost:%d" % srv.port) as c:
            for i in range(3):
                rc, out, err = c.run_pipe(droid_request())
                check(rc == 0 and out.startswith(b"HTTP/1.1 200"), "request %d: %r %s" % (i, out[:60], err))
            check(srv.reused == [False, True, True], "server saw resumption %r" % srv.reused)
            files = [f for f in os.listdir(c.auth) if f.startswith("tls-") and f.endswith(".session")]
            check(len(files) == 1, "session cache files %r" % files)
            mode = stat.S_IMODE(os.stat(os.path.join(c.auth, files[0])).st_mode)
            check(mode == 0o600, "session cache mode %o" % mode)
    finally:
        srv.close()


def test_declined_session_falls_back(ctx):
    """A server that no longer knows the session: a full handshake, and
    the request still goes through."""
    srv = CleanServer(ctx["pki"])
    try:
        with Case(ctx["pki"], upstream=False, claude_base_url="https://localhost:%d" % srv.port) as c:
            rc, out, err = c.run_pipe(droid_request())
            check(rc == 0 and out.startswith(b"HTTP/1.1 200"), "first %r" % out[:60])
            # The server forgets every session.
            cert, key = ctx["pki"].cert("localhost")
            srv.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            srv.ctx.load_cert_chain(cert, key)
            rc, out, err = c.run_pipe(droid_request())
            check(rc == 0 and out.startswith(b"HTTP/1.1 200"), "after the server forgot: %r %s" % (out[:60], err))
            check(srv.reused == [False, False], "server saw %r" % srv.reused)
            rc, out, err = c.run_pipe(droid_request())
            check(srv.reused == [False, False, True], "the new session is used next: %r" % srv.reused)
    finally:
        srv.close()


if __name__ == "__main__":
    run([v for k, v in sorted(globals().items()) if k.startswith("test_")], setup=setup_pki)

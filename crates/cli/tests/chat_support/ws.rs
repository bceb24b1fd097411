//! A WebSocket member in plain python3 (standard library only: the RFC 6455
//! handshake and frames written out in the script), shared by the web and
//! rooms tests.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Instant;

use sockit_testkit::need;

use super::{Proc, WAIT};

/// A WebSocket client in plain python3. Reads commands on stdin
/// (`T text`: text message; `BIG n`: a `{"text": "xxx…"}` of n x's; `B data`:
/// binary message; `PING data`; `CLOSE`), prints what arrives (`OPEN`,
/// `TEXT payload`, `PONG payload`, `CLOSE code reason`, `EOF`). With a third
/// argument `stall` it has a 4 KiB receive buffer and reads nothing until
/// told `GO`.
pub const PY_WS: &str = r#"
import base64, hashlib, os, socket, struct, sys, threading
host, port = sys.argv[1], int(sys.argv[2])
stall = sys.argv[3:] == ["stall"]
s = socket.socket()
if stall:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((host, port))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (host, port, key)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(4096)
    if not d:
        sys.exit("closed during handshake")
    buf += d
head, buf = buf.split(b"\r\n\r\n", 1)
accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
if b" 101 " not in head.split(b"\r\n")[0] or accept not in head:
    sys.exit("bad handshake: %r" % head)
print("OPEN", flush=True)
lock = threading.Lock()
go = threading.Event()
def send(op, payload):
    mask = os.urandom(4)
    n = len(payload)
    hdr = bytes([0x80 | op])
    if n < 126:
        hdr += bytes([0x80 | n])
    elif n < 65536:
        hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
    with lock:
        s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
def writer():
    for line in sys.stdin:
        kind, _, arg = line.rstrip("\n").partition(" ")
        if kind == "T": send(1, arg.encode())
        elif kind == "BIG": send(1, ('{"text": "' + "x" * int(arg) + '"}').encode())
        elif kind == "B": send(2, arg.encode())
        elif kind == "PING": send(9, arg.encode())
        elif kind == "CLOSE": send(8, struct.pack(">H", 1000))
        elif kind == "GO": go.set()
threading.Thread(target=writer, daemon=True).start()
if stall:
    go.wait()
def recv(n):
    global buf
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            raise EOFError
        buf += d
    out, buf = buf[:n], buf[n:]
    return out
try:
    while True:
        b0, b1 = recv(2)
        op, n = b0 & 0x0F, b1 & 0x7F
        if b1 & 0x80:
            sys.exit("server frames must not be masked")
        if n == 126:
            n = struct.unpack(">H", recv(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", recv(8))[0]
        payload = recv(n)
        if op == 1:
            print("TEXT " + payload.decode(), flush=True)
        elif op == 8:
            code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 0
            print("CLOSE %d %s" % (code, payload[2:].decode()), flush=True)
        elif op == 10:
            print("PONG " + payload.decode(), flush=True)
        else:
            print("OP %d" % op, flush=True)
except (EOFError, ConnectionResetError):
    print("EOF", flush=True)
"#;

/// A python3 WebSocket member, connected.
pub fn ws_join(addr: SocketAddr) -> Proc {
    ws_join_with(addr, &[])
}

pub fn ws_join_with(addr: SocketAddr, extra: &[&str]) -> Proc {
    need("python3");
    let mut p = Proc::spawn(
        Command::new("python3").args(["-u", "-c", PY_WS, &addr.ip().to_string(), &addr.port().to_string()]).args(extra),
    );
    p.expect("OPEN");
    p
}

/// What a WebSocket member says and hears.
pub trait WsMember {
    /// A JSON client line as a text message.
    fn say(&mut self, text: &str);
    /// The next `TEXT` message containing `needle`, parsed as JSON.
    fn event(&mut self, needle: &str) -> serde_json::Value;
}

impl WsMember for Proc {
    fn say(&mut self, text: &str) {
        let json = serde_json::json!({ "text": text }).to_string();
        self.send(&format!("T {json}"));
    }

    fn event(&mut self, needle: &str) -> serde_json::Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let l = self.expect(needle);
            if let Some(json) = l.strip_prefix("TEXT ") {
                return serde_json::from_str(json).unwrap_or_else(|e| panic!("not one JSON object ({e}): {json}"));
            }
            assert!(Instant::now() < deadline, "no TEXT message with {needle:?}; saw {:#?}", self.lines.seen);
        }
    }
}

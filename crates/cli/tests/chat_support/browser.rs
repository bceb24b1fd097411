//! Headless Chromium driven through the DevTools protocol by a python3
//! script (standard library only), so a test can run the chat page as a real
//! member: evaluate JavaScript in it, type and press keys as a keyboard user
//! would, resize the viewport and take screenshots.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sockit_testkit::need;

use super::{Proc, WAIT};

/// Starts Chromium on URL with a fresh PROFILE (and any further flags), attaches to the page over
/// the DevTools WebSocket and then runs one command per stdin line, each
/// argument JSON-encoded, answering `= JSON` (or `! error`) per command:
/// `EVAL expr` (the value), `TYPE text` (Input.insertText into the focused
/// element), `KEY name` (keyDown/keyUp of Enter, Escape, Tab or a letter,
/// with `alt+` allowed in front), `SIZE [w, h, mobile]` (the viewport),
/// `DARK bool` (prefers-color-scheme) and `SHOT path` (a PNG of the viewport).
const PY_CDP: &str = r#"
import base64, json, os, re, socket, struct, subprocess, sys, time, urllib.request
url, profile = sys.argv[1:3]
proc = subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--hide-scrollbars", "--window-size=1280,800", "--user-data-dir=" + profile, "--remote-debugging-port=0"]
    + sys.argv[3:] + [url],
    stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
try:
    port = None
    deadline = time.time() + 30
    while port is None and time.time() < deadline:
        line = proc.stderr.readline().decode(errors="replace")
        m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
        if m: port = int(m.group(1))
        if not line and proc.poll() is not None: sys.exit("chromium exited")
    if port is None: sys.exit("no DevTools port")
    page = None
    while page is None and time.time() < deadline:
        for t in json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port)):
            if t.get("type") == "page" and t.get("url", "").startswith(url):
                page = t["webSocketDebuggerUrl"]
        time.sleep(0.1)
    if page is None: sys.exit("no page target")
    path = page.split("/", 3)[3]
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf: buf += s.recv(4096)
    buf = buf.split(b"\r\n\r\n", 1)[1]
    def recv(n):
        global buf
        while len(buf) < n:
            d = s.recv(1 << 20)
            if not d: raise EOFError
            buf += d
        out, buf = buf[:n], buf[n:]
        return out
    def frame():
        data = b""
        while True:
            b0, b1 = recv(2)
            n = b1 & 0x7f
            if n == 126: n = struct.unpack(">H", recv(2))[0]
            elif n == 127: n = struct.unpack(">Q", recv(8))[0]
            data += recv(n)
            if b0 & 0x80: return data
    ids = [0]
    def call(method, **params):
        ids[0] += 1
        payload = json.dumps({"id": ids[0], "method": method, "params": params}).encode()
        mask = os.urandom(4)
        n = len(payload)
        if n < 126: hdr = bytes([0x81, 0x80 | n])
        elif n < 65536: hdr = bytes([0x81, 0x80 | 126]) + struct.pack(">H", n)
        else: hdr = bytes([0x81, 0x80 | 127]) + struct.pack(">Q", n)
        s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        while True:
            m = json.loads(frame())
            if m.get("id") == ids[0]:
                if "error" in m: raise RuntimeError(json.dumps(m["error"]))
                return m.get("result", {})
    KEYS = {"Enter": 13, "Escape": 27, "Tab": 9, "ArrowUp": 38, "ArrowDown": 40}
    def key(name):
        alt = name.startswith("alt+")
        k = name[4:] if alt else name
        code = KEYS.get(k, ord(k.upper()) if len(k) == 1 else 0)
        text = "\r" if k == "Enter" else (k if len(k) == 1 and not alt else "")
        name = ("Digit" + k if k.isdigit() else "Key" + k.upper()) if len(k) == 1 else k
        base = {"key": k, "code": name, "windowsVirtualKeyCode": code, "modifiers": 1 if alt else 0}
        call("Input.dispatchKeyEvent", type="keyDown" if text else "rawKeyDown", text=text, **base)
        call("Input.dispatchKeyEvent", type="keyUp", **base)
    while time.time() < deadline:
        r = call("Runtime.evaluate", expression="location.href + ' ' + document.readyState", returnByValue=True)
        v = r.get("result", {}).get("value") or ""
        if v.startswith(url) and v.endswith(" complete"): break
        time.sleep(0.05)
    else: sys.exit("the page did not load")
    print("READY", flush=True)
    for line in sys.stdin:
        cmd, _, arg = line.rstrip("\n").partition(" ")
        try:
            arg = json.loads(arg) if arg else None
            if cmd == "EVAL":
                r = call("Runtime.evaluate", expression=arg, returnByValue=True)
                if "exceptionDetails" in r: raise RuntimeError(json.dumps(r["exceptionDetails"])[:2000])
                out = r.get("result", {}).get("value")
            elif cmd == "TYPE":
                out = call("Input.insertText", text=arg)
            elif cmd == "KEY":
                out = key(arg)
            elif cmd == "SIZE":
                w, h, mobile = arg
                out = call("Emulation.setDeviceMetricsOverride", width=w, height=h, deviceScaleFactor=1, mobile=mobile)
            elif cmd == "DARK":
                value = "dark" if arg else "light"
                out = call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": value}])
            elif cmd == "SHOT":
                data = call("Page.captureScreenshot", format="png")["data"]
                with open(arg, "wb") as f: f.write(base64.b64decode(data))
                out = arg
            else:
                raise RuntimeError("unknown command " + cmd)
            print("= " + json.dumps(out), flush=True)
        except Exception as e:
            print("! " + str(e).replace("\n", " "), flush=True)
finally:
    proc.kill()
    proc.wait()
"#;

/// A page in headless Chromium.
pub struct Browser {
    p: Proc,
    /// Where Chromium keeps its profile (removed with the browser).
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Opens `url` in a fresh headless Chromium.
    pub fn open(url: &str) -> Browser {
        Browser::open_with(url, &[])
    }

    /// Opens `url` in a fresh headless Chromium started with `flags` too.
    pub fn open_with(url: &str, flags: &[&str]) -> Browser {
        need("chromium");
        need("python3");
        let profile = tempfile::tempdir().unwrap();
        let mut p = Proc::spawn(
            Command::new("python3").args(["-u", "-c", PY_CDP, url, &profile.path().display().to_string()]).args(flags),
        );
        p.lines.expect_within("READY", Duration::from_secs(40));
        Browser { p, _profile: profile }
    }

    fn run(&mut self, cmd: &str, arg: &serde_json::Value) -> serde_json::Value {
        self.p.send(&format!("{cmd} {arg}"));
        let deadline = Instant::now() + WAIT;
        loop {
            let l = self.p.lines.next_within(deadline.saturating_duration_since(Instant::now()));
            match l.as_deref() {
                Some(l) if l.starts_with("= ") => return serde_json::from_str(&l[2..]).unwrap(),
                Some(l) if l.starts_with("! ") => panic!("{cmd} {arg} failed: {l}"),
                Some(_) => {}
                None => panic!("no answer to {cmd} {arg}; saw {:#?}", self.p.lines.seen),
            }
        }
    }

    /// The value of `expr` in the page.
    pub fn eval(&mut self, expr: &str) -> serde_json::Value {
        self.run("EVAL", &serde_json::Value::from(expr))
    }

    /// The string value of `expr` in the page.
    pub fn text(&mut self, expr: &str) -> String {
        match self.eval(expr) {
            serde_json::Value::String(s) => s,
            other => panic!("{expr} is {other}, not a string"),
        }
    }

    /// Waits until `expr` is true in the page; panics with `what` (and the
    /// value of `show`) after [`WAIT`].
    pub fn wait(&mut self, expr: &str, what: &str) {
        let deadline = Instant::now() + WAIT;
        while self.eval(expr) != serde_json::Value::Bool(true) {
            if Instant::now() > deadline {
                let log = self.eval("document.getElementById('log').innerText");
                panic!("timed out waiting for {what} ({expr}); the log: {log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `text` into the focused element, as a keyboard would.
    pub fn type_text(&mut self, text: &str) {
        self.run("TYPE", &serde_json::Value::from(text));
    }

    /// Presses and releases a key (`Enter`, `Escape`, `Tab`, `alt+2` …).
    pub fn key(&mut self, key: &str) {
        self.run("KEY", &serde_json::Value::from(key));
    }

    /// Sets the viewport (a phone when `mobile`).
    pub fn size(&mut self, width: u32, height: u32, mobile: bool) {
        self.run("SIZE", &serde_json::json!([width, height, mobile]));
    }

    /// Emulates a dark (or light) colour-scheme preference.
    pub fn dark(&mut self, on: bool) {
        self.run("DARK", &serde_json::Value::from(on));
    }

    /// A PNG of the viewport at `path`.
    pub fn screenshot(&mut self, path: &Path) {
        self.run("SHOT", &serde_json::Value::from(path.display().to_string()));
        assert!(
            std::fs::metadata(path).map(|m| m.len() > 1000).unwrap_or(false),
            "no screenshot at {}",
            path.display()
        );
    }
}

impl Drop for Browser {
    /// Ends the driver by closing its stdin, so it stops Chromium itself
    /// (killing the driver alone could leave Chromium running).
    fn drop(&mut self) {
        drop(self.p.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.p.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

//! The chat page as a client of several rooms, in headless Chromium driven
//! over the DevTools protocol (chat_support/browser.rs) against a real
//! `sockit chat serve`, with raw TCP text members (std sockets) on the
//! other side: the sidebar and its unread counts, the topic, the member list
//! with `@`/`+` marks, private conversations, member text that must stay
//! text, keyboard use, the phone-sized layout (with screenshots), a
//! reconnect after a restart, and a stand-in for an older server whose
//! notices carry only text. The page's model also runs under node
//! (chat_web_page.js).
#![allow(clippy::unwrap_used)]

mod chat_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use chat_support::browser::Browser;
use chat_support::{Member, WAIT};
use sockit_testkit::{bin, free_port, need, Sockit};

fn serve() -> Sockit {
    Sockit::start(&bin(), &["chat", "serve", "--no-irc", "--port", "0", "--web-port", "0", "--no-history"], 3)
}

fn page_html() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../chat/src/transport/ws/page.html")
}

/// Where screenshots go: `$SOCKIT_SCREENSHOTS` when set (to look at them),
/// else a directory removed after the test.
fn shots() -> (PathBuf, Option<tempfile::TempDir>) {
    match std::env::var_os("SOCKIT_SCREENSHOTS") {
        Some(d) => {
            std::fs::create_dir_all(&d).unwrap();
            (PathBuf::from(d), None)
        }
        None => {
            let t = tempfile::tempdir().unwrap();
            (t.path().to_path_buf(), Some(t))
        }
    }
}

/// The page's JavaScript model under node: events in, sidebar, members,
/// topic, unread counts and outgoing lines checked (chat_web_page.js).
#[test]
fn page_model_passes_its_node_tests() {
    need("node");
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/chat_web_page.js");
    let out = Command::new("node").arg(js).arg(page_html()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(" passed") && !stdout.contains("FAIL"), "{stdout}");
}

/// The page stays one small self-contained file: no external resource,
/// no markup built from strings.
#[test]
fn page_is_small_and_self_contained() {
    let page = std::fs::read_to_string(page_html()).unwrap();
    assert!(page.len() < 40 * 1024, "page.html is {} bytes", page.len());
    for banned in
        ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "http://", "https://", "src="]
    {
        assert!(!page.contains(banned), "page.html contains {banned}");
    }
}

/// What a list in the page shows, one string per entry.
fn texts(b: &mut Browser, selector: &str) -> Vec<String> {
    let v = b.eval(&format!("[...document.querySelectorAll({selector:?})].map((e) => e.textContent)"));
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

/// The unread badge of a room in the sidebar ("" when none).
fn badge(b: &mut Browser, key: &str) -> String {
    b.text(&format!("(document.querySelector('[data-key=\"{key}\"] .badge') || {{ textContent: '' }}).textContent"))
}

/// A TCP member `nick` in lobby and `room` (current), its join seen.
fn member_in(addr: std::net::SocketAddr, nick: &str, room: &str) -> Member {
    let mut m = Member::join(addr, nick);
    m.send(&format!("/join {room}"));
    m.expect(&format!("members of {room}"));
    m
}

/// Waits until the page's log shows `needle`.
fn wait_log(b: &mut Browser, needle: &str) {
    let needle = serde_json::Value::from(needle);
    b.wait(&format!("document.getElementById('log').textContent.includes({needle})"), &format!("{needle} in the log"));
}

/// Types a line into the focused element and presses Enter.
fn enter(b: &mut Browser, text: &str) {
    b.type_text(text);
    b.key("Enter");
}

/// The browser member joins a second room through the sidebar, sees the
/// topic (markup in it stays text) and the member list with `@` for the op,
/// counts unread messages a TCP member sends in the room it is not looking
/// at, talks back, follows op/kick/quit, gets a private conversation, and
/// edits the topic once it is an op — all by keyboard.
#[test]
fn chromium_page_rooms_unread_topic_members() {
    need("chromium");
    let (dir, _keep) = shots();
    let s = serve();
    let mut ann = member_in(s.addr("tcp"), "ann", "dev");
    let xss = "<img src=x onerror=\"document.title='pwned'\"> dev talk";
    ann.send(&format!("/topic {xss}"));
    ann.expect("set the topic of dev");

    let mut b = Browser::open(&format!("http://{}/", s.addr("http")));
    b.wait("document.getElementById('status').textContent === 'connected' && chat.me !== null", "the page to connect");
    assert_eq!(b.text("document.activeElement.id"), "input", "the message box has the focus");
    enter(&mut b, "/nick web");
    ann.expect("is now known as web");
    b.wait("chat.me === 'web'", "the new nick");

    // Join dev from the sidebar's join box, by keyboard.
    b.eval("document.getElementById('joinname').focus()");
    enter(&mut b, "dev");
    assert_eq!(ann.expect("web joined dev"), "[dev] * web joined dev");
    b.wait("chat.view === '#dev' && document.querySelectorAll('#members li').length === 2", "dev and its members");
    assert_eq!(texts(&mut b, "#rooms .label"), ["#lobby", "#dev"]);
    assert_eq!(b.text("document.getElementById('name').textContent"), "#dev");
    assert_eq!(b.text("document.getElementById('topic').textContent"), xss);
    assert_eq!(texts(&mut b, "#members li"), ["@ann", "web (you)"]);
    assert_eq!(b.text("document.activeElement.id"), "input", "focus back in the message box");

    // Look at lobby (Alt+1); ann talks in dev: unread counts go up.
    b.key("alt+1");
    b.wait("chat.view === '#lobby'", "lobby on screen");
    ann.send("hello dev 1");
    b.wait("document.querySelector('[data-key=\"#dev\"] .badge') !== null", "an unread count");
    assert_eq!(badge(&mut b, "#dev"), "1");
    ann.send("hello dev 2, web");
    b.wait("document.querySelector('[data-key=\"#dev\"] .badge').textContent === '2'", "two unread");
    assert!(b
        .eval("document.querySelector('[data-key=\"#dev\"] .badge').classList.contains('hot')")
        .as_bool()
        .unwrap());
    assert_eq!(b.text("document.title"), "(2) sockit chat");
    // A line in the room on screen is shown, not counted.
    ann.send("/join lobby");
    ann.expect("current room: lobby");
    ann.send("hi lobby");
    wait_log(&mut b, "<ann> hi lobby");
    assert_eq!(badge(&mut b, "#lobby"), "");
    // Viewing dev (Alt+2) resets its count and shows what came.
    b.key("alt+2");
    b.wait("chat.view === '#dev'", "dev on screen");
    assert_eq!(badge(&mut b, "#dev"), "");
    assert_eq!(b.text("document.title"), "sockit chat");
    let log = b.text("document.getElementById('log').textContent");
    assert!(log.contains("<ann> hello dev 1") && log.contains("<ann> hello dev 2, web"), "{log}");
    // The page's line goes to the room on screen (the server's current room
    // was lobby while lobby was shown).
    enter(&mut b, "hello from the browser");
    assert_eq!(ann.expect("hello from the browser"), "[dev] <web> hello from the browser");
    assert!(b.eval("document.querySelector('#log li:last-child').classList.contains('mine')").as_bool().unwrap());

    // Member text is text: markup in a message, and in a nick and a topic
    // as a (hypothetical) server would send them, through the page's own
    // message handler — nicks with markup are refused by the server.
    ann.send("/nick <img");
    ann.expect("! bad nick");
    ann.send("/join dev");
    ann.expect("current room: dev");
    ann.send("<img src=x onerror=\"document.title='pwned'\"><b>bold</b>");
    wait_log(&mut b, "<b>bold</b>");
    let evil = "<img src=x onerror=\"document.title='pwned'\">";
    for ev in [
        serde_json::json!({"type": "msg", "room": "dev", "from": evil, "text": "x", "ts": 1}),
        serde_json::json!({"type": "notice", "event": "join", "room": "dev", "nick": evil, "text": "j", "ts": 1}),
    ] {
        let data = serde_json::Value::from(ev.to_string());
        b.eval(&format!("ws.onmessage({{ data: {data} }}); 1"));
    }
    b.wait("document.querySelectorAll('#members li').length === 3", "the crafted member");
    assert_eq!(
        b.eval("[document.querySelectorAll('img, b').length, document.scripts.length]"),
        serde_json::json!([0, 1])
    );
    assert_eq!(b.text("document.title"), "sockit chat");
    let shown = texts(&mut b, "#members .nick");
    assert!(shown.contains(&evil.to_string()), "{shown:?}");

    // Op: the mark follows mode events, and an op may edit the +t topic.
    assert!(b.eval("document.getElementById('topicbtn').hidden").as_bool().unwrap(), "not an op of a +t room");
    ann.send("/op web");
    b.wait("[...document.querySelectorAll('#members li')].some((e) => e.textContent === '@web (you)')", "@web");
    b.wait("!document.getElementById('topicbtn').hidden", "the topic button");
    b.screenshot(&dir.join("chat-op.png"));
    b.eval("document.getElementById('topicbtn').focus()");
    b.key("Enter");
    assert_eq!(b.text("document.activeElement.id"), "topicinput");
    b.screenshot(&dir.join("chat-topic-edit.png"));
    b.eval("document.getElementById('topicinput').select()");
    enter(&mut b, "plans for <b>friday</b>");
    ann.expect("web set the topic of dev: plans for <b>friday</b>");
    b.wait("document.getElementById('topic').textContent === 'plans for <b>friday</b>'", "the new topic");

    // Voice, kick and quit keep the list current.
    let mut cat = member_in(s.addr("tcp"), "cat", "dev");
    let mut dan = member_in(s.addr("tcp"), "dan", "dev");
    ann.send("/voice cat");
    b.wait("((t) => t.includes('+cat') && t.includes('dan'))([...document.querySelectorAll('#members li')].map((e) => e.textContent))", "+cat");
    ann.send("/kick dan go away");
    dan.expect("ann kicked dan from dev (go away)");
    b.wait("![...document.querySelectorAll('#members li')].some((e) => e.textContent === 'dan')", "dan kicked");
    cat.send("/quit");
    b.wait("![...document.querySelectorAll('#members li')].some((e) => e.textContent.includes('cat'))", "cat gone");
    let log = b.text("document.getElementById('log').textContent");
    assert!(log.contains("* ann kicked dan from dev (go away)") && log.contains("* cat left"), "{log}");
    assert_eq!(texts(&mut b, "#members li").len(), 3, "@ann, @web and the crafted one");

    // A private message opens its own conversation, marked hot.
    ann.send("/msg web psst, web");
    b.wait("document.querySelector('[data-key=\"@ann\"] .badge') !== null", "the private conversation");
    assert_eq!(badge(&mut b, "@ann"), "1");
    assert!(!b.text("document.getElementById('log').textContent").contains("psst"), "not in the room's log");
    b.key("alt+3");
    b.wait("chat.view === '@ann'", "the conversation on screen");
    enter(&mut b, "what?");
    assert_eq!(ann.expect("what?"), "<web -> ann> what?");

    // Leaving dev with its × button (keyboard: focus it, Enter).
    b.eval("document.querySelector('[data-key=\"#dev\"]').nextElementSibling.focus()");
    b.key("Enter");
    ann.expect("web left dev");
    b.wait("document.querySelector('[data-key=\"#dev\"]') === null", "dev gone from the sidebar");
    drop(b);
    ann.expect("web left");
    assert!(s.stop(WAIT).success());
}

/// Desktop and phone (390×844) layouts, screenshotted: on the phone the
/// sidebar and member list hide behind buttons, nothing scrolls sideways,
/// and the panes open and close by keyboard.
#[test]
fn chromium_page_layouts_desktop_and_phone() {
    need("chromium");
    let (dir, _keep) = shots();
    let s = serve();
    let mut ann = member_in(s.addr("tcp"), "ann", "dev");
    ann.send("/topic Release planning — keep it short; notes in the wiki");
    ann.expect("set the topic");
    let mut ben = member_in(s.addr("tcp"), "ben", "dev");
    ann.send("/voice ben");
    ben.expect("set mode +v ben");

    let mut b = Browser::open(&format!("http://{}/", s.addr("http")));
    b.wait("document.getElementById('status').textContent === 'connected' && chat.me !== null", "the page to connect");
    enter(&mut b, "/nick web");
    ann.expect("is now known as web");
    enter(&mut b, "/join dev");
    ann.expect("[dev] * web joined dev");
    b.wait("chat.view === '#dev' && document.querySelectorAll('#members li').length === 3", "dev");
    ann.send("morning all, the build is green again");
    wait_log(&mut b, "green again");
    ben.send("/join dev");
    ben.expect("current room: dev");
    ben.send("/me waves");
    wait_log(&mut b, "waves");
    enter(&mut b, "great, thanks ann");
    ben.send("web: can you look at the release notes? a long line that has to wrap on a phone screen without scrolling sideways");
    wait_log(&mut b, "scrolling sideways");
    ann.send("/join lobby");
    ann.expect("current room: lobby");
    ann.send("lunch at noon?");
    b.wait("document.querySelector('[data-key=\"#lobby\"] .badge') !== null", "an unread count in lobby");
    ann.send("/msg web ping me when you are back");
    b.wait("document.querySelector('[data-key=\"@ann\"]') !== null", "the private conversation");

    b.size(1280, 800, false);
    b.wait("getComputedStyle(document.getElementById('side')).display !== 'none' && getComputedStyle(document.getElementById('people')).display !== 'none'", "both panes on a desktop");
    b.screenshot(&dir.join("chat-desktop.png"));

    b.size(390, 844, true);
    b.wait("getComputedStyle(document.getElementById('side')).display === 'none'", "the sidebar collapsed");
    assert_eq!(b.text("getComputedStyle(document.getElementById('people')).display"), "none");
    assert_ne!(b.text("getComputedStyle(document.getElementById('sidebtn')).display"), "none");
    let wide = b.eval("[document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth]");
    let w: Vec<i64> = wide.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    assert!(w[0] <= w[2] && w[1] <= w[2], "scrolls sideways: {w:?}");
    assert_eq!(
        b.eval("document.getElementById('log').scrollWidth <= document.getElementById('log').clientWidth"),
        serde_json::json!(true)
    );
    b.screenshot(&dir.join("chat-phone.png"));

    // The rooms pane by keyboard: Alt+R opens it (focus inside), Escape closes.
    b.key("alt+r");
    b.wait("getComputedStyle(document.getElementById('side')).display !== 'none'", "the rooms pane");
    assert_eq!(b.text("document.getElementById('sidebtn').getAttribute('aria-expanded')"), "true");
    assert!(b.eval("document.getElementById('side').contains(document.activeElement)").as_bool().unwrap());
    b.screenshot(&dir.join("chat-phone-rooms.png"));
    b.key("Escape");
    b.wait("getComputedStyle(document.getElementById('side')).display === 'none'", "the rooms pane closed");
    assert_eq!(b.text("document.activeElement.id"), "input");
    // The member list through its button.
    b.eval("document.getElementById('peoplebtn').focus()");
    b.key("Enter");
    b.wait("getComputedStyle(document.getElementById('people')).display !== 'none'", "the member pane");
    assert_eq!(texts(&mut b, "#members li"), ["@ann", "+ben", "web (you)"]);
    b.screenshot(&dir.join("chat-phone-members.png"));
    // The dark scheme keeps nicks readable: the lighter colour of each.
    b.dark(true);
    let nick = "getComputedStyle(document.querySelector('#members .nick')).color";
    b.wait(&format!("{nick}.startsWith('oklch(0.8')"), "the dark nick colour");
    b.screenshot(&dir.join("chat-phone-dark.png"));
    drop(b);
    assert!(s.stop(WAIT).success());
}

/// The server restarts under the page: the page reconnects by itself, takes
/// its nick again and rejoins its rooms, the one on screen current.
#[test]
fn chromium_page_reconnects_with_its_nick_and_rooms() {
    need("chromium");
    let web = free_port().to_string();
    let start =
        || Sockit::start(&bin(), &["chat", "serve", "--no-irc", "--port", "0", "--web-port", &web, "--no-history"], 3);
    let s = start();
    let mut b = Browser::open(&format!("http://127.0.0.1:{web}/"));
    b.wait("document.getElementById('status').textContent === 'connected' && chat.me !== null", "the page to connect");
    enter(&mut b, "/nick web");
    enter(&mut b, "/join dev");
    b.wait("chat.view === '#dev'", "dev");
    enter(&mut b, "/join ops");
    b.wait("chat.view === '#ops'", "ops");
    b.key("alt+2");
    b.wait("chat.view === '#dev' && chat.current === 'dev'", "dev on screen");
    assert!(s.stop(WAIT).success());
    b.wait("document.getElementById('status').textContent.startsWith('disconnected')", "the page to notice");

    let s = start();
    let rooms = "chat.joinedRooms().map((r) => r.name).join(' ')";
    b.wait(
        &format!("chat.me === 'web' && {rooms} === 'lobby ops dev' && chat.current === 'dev' && chat.view === '#dev'"),
        "nick and rooms again",
    );
    let mut ann = Member::join(s.addr("tcp"), "ann");
    ann.send("/join dev");
    assert_eq!(ann.expect("members of dev"), "[dev] * members of dev (2): ann, @web", "web made dev again, so runs it");
    ann.send("after the restart");
    wait_log(&mut b, "<ann> after the restart");
    enter(&mut b, "back again");
    assert_eq!(ann.expect("back again"), "[dev] <web> back again");
    drop(b);
    assert!(s.stop(WAIT).success());
}

/// A server as sockit's was before rooms had structure (python3, standard
/// library only): it serves PAGE at `/` and one WebSocket member at `/ws`,
/// whose notices carry only `text` (and `room`), with one room per member.
/// It answers `/nick`, `/join` (a move) and `/who` as that server did,
/// prints `LINE text` for each line the page sends, and sends each JSON
/// event written to its stdin to the page. Prints `PORT n` when listening.
const PY_OLD_SERVER: &str = r#"
import base64, hashlib, json, socket, struct, sys, threading, time
page = open(sys.argv[1], "rb").read()
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(8)
print("PORT %d" % ls.getsockname()[1], flush=True)
conn = [None]
lock = threading.Lock()
def send(ev):
    ev.setdefault("ts", int(time.time() * 1000))
    data = json.dumps(ev).encode()
    n = len(data)
    hdr = bytes([0x81, n]) if n < 126 else bytes([0x81, 126]) + struct.pack(">H", n)
    with lock:
        conn[0].sendall(hdr + data)
def member(s, buf):
    nick, room = "127.0.0.1:%d" % s.getpeername()[1], "lobby"
    send({"type": "notice", "room": room, "text": "%s joined %s" % (nick, room)})
    def recv(n):
        nonlocal buf
        while len(buf) < n:
            d = s.recv(65536)
            if not d: raise EOFError
            buf += d
        out, buf = buf[:n], buf[n:]
        return out
    while True:
        b0, b1 = recv(2)
        n = b1 & 0x7f
        if n == 126: n = struct.unpack(">H", recv(2))[0]
        mask = recv(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(recv(n)))
        if b0 & 0x0f != 1: return
        line = json.loads(payload)["text"]
        print("LINE " + line, flush=True)
        word, _, arg = line.partition(" ")
        if word == "/nick":
            send({"type": "notice", "text": "%s is now known as %s" % (nick, arg)})
            nick = arg
        elif word == "/join":
            send({"type": "notice", "room": arg, "text": "%s joined %s" % (nick, arg)})
            room = arg
        elif word == "/who":
            send({"type": "notice", "room": room, "text": "members of %s (2): ann, %s" % (room, nick)})
def http(s):
        head = b""
        while b"\r\n\r\n" not in head:
            d = s.recv(4096)
            if not d: return
            head += d
        head, buf = head.split(b"\r\n\r\n", 1)
        if head.startswith(b"GET / "):
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(page) + page)
            s.close()
            return
        if not head.startswith(b"GET /ws "):
            s.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            s.close()
            return
        key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key:")][0]
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        s.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        conn[0] = s
        member(s, buf)
def serve():
    while True:
        # A connection each: a browser opens some it sends nothing on.
        threading.Thread(target=http, args=(ls.accept()[0],), daemon=True).start()
threading.Thread(target=serve, daemon=True).start()
for line in sys.stdin:
    send(json.loads(line))
"#;

/// Against a server whose notices have only `text`, the page is still a
/// working one-room client: its nick, the member list read from `/who`,
/// a `/join` that moves, and a leave that is a move home (that server's
/// `/part` was `/quit`).
#[test]
fn chromium_page_works_with_a_text_only_server() {
    need("chromium");
    need("python3");
    let mut old = chat_support::Proc::spawn(Command::new("python3").args(["-u", "-c", PY_OLD_SERVER]).arg(page_html()));
    let port = old.expect("PORT ").trim_start_matches("PORT ").to_string();
    let mut b = Browser::open(&format!("http://127.0.0.1:{port}/"));
    b.wait("document.getElementById('status').textContent === 'connected' && chat.me !== null", "the page to connect");
    assert!(b.text("chat.me").starts_with("127.0.0.1:"));
    enter(&mut b, "/nick web");
    assert_eq!(old.expect("LINE "), "LINE /nick web");
    b.wait("chat.me === 'web'", "the nick");
    old.send(r#"{"type":"msg","room":"lobby","from":"ann","text":"hi from an older server"}"#);
    wait_log(&mut b, "<ann> hi from an older server");
    enter(&mut b, "/who");
    assert_eq!(old.expect("LINE "), "LINE /who");
    b.wait("document.querySelectorAll('#members li').length === 2", "the member list");
    assert_eq!(texts(&mut b, "#members li"), ["ann", "web (you)"]);
    wait_log(&mut b, "* members of lobby (2): ann, web");
    assert!(b.eval("document.getElementById('topicbtn').hidden").as_bool().unwrap(), "no /topic there");
    assert_eq!(
        b.eval("document.querySelector('[data-key=\"#lobby\"] + .close')"),
        serde_json::Value::Null,
        "no leaving home"
    );

    enter(&mut b, "/join dev");
    assert_eq!(old.expect("LINE "), "LINE /join dev");
    b.wait("chat.view === '#dev'", "dev");
    assert!(
        b.eval("document.querySelector('[data-key=\"#lobby\"]').classList.contains('gone')").as_bool().unwrap(),
        "a move"
    );
    enter(&mut b, "hello dev");
    assert_eq!(old.expect("LINE "), "LINE hello dev", "no extra /join: the server's room is the one shown");
    old.send(r#"{"type":"msg","room":"dev","from":"ann","text":"<b>still</b> text"}"#);
    wait_log(&mut b, "<ann> <b>still</b> text");
    assert_eq!(b.eval("document.querySelectorAll('#log b').length"), serde_json::json!(0));
    // Leaving dev: a move home, never /part.
    b.eval("document.querySelector('[data-key=\"#dev\"] + .close').focus()");
    b.key("Enter");
    assert_eq!(old.expect("LINE "), "LINE /join lobby");
    b.wait("chat.view === '#lobby' && chat.current === 'lobby'", "back home");
    drop(b);
}

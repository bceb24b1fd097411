// The chat page's model (makeChat in page.html) under node, without a DOM:
// the events of docs/protocol.md in, the sidebar, member list, topic, unread
// counts and the lines the page sends out. Run by chat_web_rooms.rs
// (`node chat_web_page.js PAGE.html`); prints `ok N` per test, exits 1 on a failure.
"use strict";
const assert = require("assert");
const fs = require("fs");

const html = fs.readFileSync(process.argv[2], "utf8");
const script = /<script>([\s\S]*)<\/script>/.exec(html)[1];
const mod = {};
new Function("module", script)(mod);
const { makeChat, nickColour } = mod.exports;

let ts = 1763770000000;
const ev = (o) => Object.assign({ type: "notice", text: "", ts: ts++ }, o);
const join = (room, nick) => ev({ event: "join", room, nick, text: `${nick} joined ${room}` });
const names = (room, members, topic) => ev({ event: "names", room, topic, members, text: `members of ${room}` });
const msg = (room, from, text) => ev({ type: "msg", room, from, text });
const M = (nick, op = false, voice = false) => ({ nick, op, voice });
const members = (c, key) => [...c.buf(key).members.values()].map((m) => (m.op ? "@" : m.voice ? "+" : "") + m.nick).sort();
/** The member types `/join ROOM` and the server answers with our join. */
const enter = (c, room) => {
  assert.deepStrictEqual(c.submit("/join " + room), ["/join " + room]);
  c.handle(join(room, c.me));
};
const last = (c, key) => c.buf(key).log[c.buf(key).log.length - 1];

/** A chat as a structured server leaves it after registration: web in lobby with ann. */
function registered() {
  const c = makeChat();
  c.handle(join("lobby", "web"));
  c.handle(names("lobby", [M("ann"), M("web")], null));
  return c;
}

/** Random events, typing, switching and leaving against one chat; checks what must always hold. */
function randomRun(seed) {
  const rnd = (n) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
  const pick = (a) => a[rnd(a.length)];
  const nicks = ["web", "ann", "Ann", "bob", "<img src=x onerror=alert(1)>", "", null, 5, "a b"];
  const rooms = ["lobby", "#dev", "DEV", "ops", "", null, {}, "x".repeat(40)];
  const kinds = ["join", "part", "quit", "nick", "topic", "mode", "kick", "invite", "names", "away", "other", 3, null];
  const c = makeChat();
  c.handle(join("lobby", "web"));
  for (let i = 0; i < 3000; i++) {
    const r = rnd(10);
    if (r < 6) {
      const e = { type: pick(["notice", "notice", "msg", "me", "private", "error", 7]), text: pick(["hi", "current room: dev", "you left dev; x", "ann joined dev", "", null]),
        ts: pick([1, "x", null]), room: pick(rooms), nick: pick(nicks), new: pick(nicks), target: pick(nicks), from: pick(nicks), to: pick(nicks),
        event: pick(kinds), modes: pick(["+o ann", "-o+v web bob", "+b", "+l", "+t", "-t", "", 9]), topic: pick(["t", null, 4]),
        reason: pick(["r", null]), members: pick([undefined, [], [M("ann", true)], [M("web"), null, { nick: "x" }], "no"]), history: pick([true, false, "yes"]) };
      if (rnd(3) === 0) e.event = undefined;
      c.handle(e);
    } else if (r < 8) {
      c.submit(pick(["hello", "/join dev", "/part", "/who", "/query ann", "/query ann hi", "//x", "", "/topic x"]));
    } else if (r === 8) {
      c.select(pick([...c.bufs.keys()]));
    } else {
      const keys = [...c.bufs.keys()];
      pick([() => c.leave(pick(keys)), () => c.join(pick(["dev", "ops", "", "#Lobby"])), () => c.reconnected()])();
    }
    assert.ok(c.bufs.has(c.view), "the view is a buffer: " + c.view);
    for (const b of c.bufs.values()) {
      assert.ok(b.log.length <= 1000 && b.unread >= 0);
      for (const m of b.members.values()) assert.strictEqual(typeof m.nick, "string");
      assert.ok(b.key.length > 1 || b.key === "*", "a buffer without a name: " + b.key);
    }
    assert.ok(c.current === null || typeof c.current === "string");
    assert.strictEqual(c.bufs.get(c.view).unread, 0, "what is on screen is read");
  }
}

const tests = {
  "nick colours are stable, case-insensitive and spread"() {
    assert.deepStrictEqual(nickColour("Alice"), nickColour("alice"));
    assert.deepStrictEqual(nickColour("bob"), nickColour("bob"));
    const hues = new Set(["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"].map((n) => nickColour(n).light));
    assert.ok(hues.size >= 7, [...hues].join(" "));
    for (const n of ["a", "zz", "127.0.0.1:5000", "<img src=x onerror=alert(1)>", "张三"]) {
      const m = /^oklch\(50% 0\.17 (\d+)\)$/.exec(nickColour(n).light);
      assert.ok(m && Number(m[1]) < 360, nickColour(n).light);
      assert.strictEqual(nickColour(n).dark, "oklch(80% 0.13 " + m[1] + ")");
    }
  },

  "the first join is our own: lobby joined, shown, members from names"() {
    const c = registered();
    assert.strictEqual(c.me, "web");
    assert.strictEqual(c.view, "#lobby");
    assert.strictEqual(c.current, "lobby");
    assert.ok(c.buf("#lobby").joined);
    assert.deepStrictEqual(members(c, "#lobby"), ["ann", "web"]);
    assert.ok(c.structured);
  },

  "joining a second room switches to it; unread counts elsewhere, reset on view"() {
    const c = registered();
    assert.deepStrictEqual(c.join("Dev"), ["/join dev"]);
    c.handle(join("dev", "web"));
    c.handle(names("dev", [M("ann", true), M("web")], "all about <b>dev</b>"));
    assert.strictEqual(c.view, "#dev");
    assert.strictEqual(c.buf("#dev").topic, "all about <b>dev</b>");
    assert.deepStrictEqual(members(c, "#dev"), ["@ann", "web"]);
    c.handle(msg("lobby", "ann", "one"));
    c.handle(msg("lobby", "ann", "two"));
    c.handle(msg("dev", "ann", "here"));
    assert.strictEqual(c.buf("#lobby").unread, 2);
    assert.strictEqual(c.buf("#dev").unread, 0);
    assert.ok(!c.buf("#lobby").hot);
    c.handle(msg("lobby", "ann", "hey web"));
    assert.ok(c.buf("#lobby").hot, "a mention is marked");
    assert.strictEqual(c.totalUnread(), 3);
    // Viewing lobby resets its count and makes it the server's current room.
    assert.deepStrictEqual(c.select("#lobby"), ["/join lobby"]);
    assert.strictEqual(c.buf("#lobby").unread, 0);
    assert.ok(!c.buf("#lobby").hot);
    // The server's answer to that switch is not shown and does not move the view.
    c.handle(ev({ text: "current room: lobby" }));
    assert.strictEqual(c.view, "#lobby");
    assert.ok(!c.buf("#lobby").log.some((e) => e.text.includes("current room")));
    // History replayed on join is not unread.
    c.handle(Object.assign(msg("dev", "ann", "old"), { history: true }));
    assert.strictEqual(c.buf("#dev").unread, 0);
  },

  "answers to quick switches do not move the view back"() {
    const c = registered();
    c.handle(join("dev", "web"));
    c.handle(join("ops", "web"));
    const out = [...c.select("#lobby"), ...c.select("#dev")];
    assert.deepStrictEqual(out, ["/join lobby", "/join dev"]);
    c.handle(ev({ text: "current room: lobby" }));
    c.handle(ev({ text: "current room: dev" }));
    assert.strictEqual(c.view, "#dev");
    // A switch the member typed (/join of a joined room) moves the view.
    c.submit("/join ops");
    c.handle(ev({ text: "current room: ops" }));
    assert.strictEqual(c.view, "#ops");
  },

  "the structured current notice moves the view as the text one does"() {
    const c = registered();
    c.handle(join("dev", "web"));
    c.handle(join("ops", "web"));
    const cur = (room) => ev(room ? { text: "current room: " + room, event: "current", room } : { text: "you left ops; you are in no room: /join ROOM", event: "current" });
    assert.deepStrictEqual([...c.select("#lobby"), ...c.select("#dev")], ["/join lobby", "/join dev"]);
    c.handle(cur("lobby"));
    c.handle(cur("dev"));
    assert.strictEqual(c.view, "#dev");
    assert.ok(!c.buf("#dev").log.some((e) => e.text.includes("current room")), "answers to our switches stay quiet");
    c.submit("/join ops");
    c.handle(cur("ops"));
    assert.strictEqual(c.view, "#ops");
    assert.strictEqual(c.current, "ops");
    c.handle(cur(null));
    assert.strictEqual(c.current, null);
  },

  "lines go to the room on screen; private views send /msg"() {
    const c = registered();
    enter(c, "dev");
    assert.deepStrictEqual(c.submit("hello dev"), ["hello dev"]);
    assert.deepStrictEqual(last(c, "#dev"), Object.assign({}, last(c, "#dev"), { kind: "msg", from: "web", text: "hello dev", mine: true }));
    c.select("#lobby");
    c.handle(ev({ text: "current room: lobby" }));
    // The server moved on (a /join typed elsewhere): the page puts it back first.
    c.current = "dev";
    assert.deepStrictEqual(c.submit("//slash"), ["/join lobby", "//slash"]);
    assert.strictEqual(last(c, "#lobby").text, "/slash");
    assert.deepStrictEqual(c.submit("/topic new"), ["/topic new"]);
    assert.deepStrictEqual(c.submit("/query ann"), []);
    assert.strictEqual(c.view, "@ann");
    assert.deepStrictEqual(c.submit("psst"), ["/msg ann psst"]);
    assert.deepStrictEqual(c.submit("/query bob hi there"), ["/msg bob hi there"]);
    assert.strictEqual(c.view, "@bob");
  },

  "private messages have their own conversation, both ways"() {
    const c = registered();
    c.handle(ev({ type: "private", from: "ann", to: "web", text: "psst" }));
    c.handle(ev({ type: "private", from: "web", to: "ann", text: "yes?" }));
    const p = c.buf("@ann");
    assert.strictEqual(p.kind, "pm");
    assert.deepStrictEqual(p.log.map((e) => [e.from, e.text, e.mine]), [["ann", "psst", false], ["web", "yes?", true]]);
    assert.strictEqual(p.unread, 1);
    assert.ok(p.hot);
    assert.strictEqual(c.buf("#lobby").log.filter((e) => e.kind === "private").length, 0);
    // The other side renames: the conversation (and the view on it) follows.
    c.select("@ann");
    c.handle(ev({ event: "nick", nick: "ann", new: "anna", text: "ann is now known as anna" }));
    assert.strictEqual(c.view, "@anna");
    assert.ok(!c.buf("@ann"));
    assert.strictEqual(c.buf("@anna").name, "anna");
    assert.strictEqual(c.buf("@anna").log.length, 3);
  },

  "modes, kicks, parts, quits, nicks and away keep the member list current"() {
    const c = registered();
    c.handle(join("dev", "web"));
    c.handle(names("dev", [M("ann", true), M("web"), M("bob")], null));
    c.handle(join("dev", "cat"));
    assert.deepStrictEqual(members(c, "#dev"), ["@ann", "bob", "cat", "web"]);
    assert.ok(!c.mayTopic(c.buf("#dev")), "+t and not an op");
    c.handle(ev({ event: "mode", room: "dev", nick: "ann", modes: "+ov-t web bob", text: "ann set mode +ov-t web bob on dev" }));
    assert.deepStrictEqual(members(c, "#dev"), ["+bob", "@ann", "@web", "cat"]);
    assert.ok(c.mayTopic(c.buf("#dev")));
    c.handle(ev({ event: "mode", room: "dev", nick: "ann", modes: "+b-o+l *!*@1.2.3.4 web 10", text: "" }));
    assert.deepStrictEqual(members(c, "#dev"), ["+bob", "@ann", "cat", "web"]);
    assert.ok(c.mayTopic(c.buf("#dev")), "-t still");
    c.handle(ev({ event: "mode", room: "dev", nick: "ann", modes: "+t", text: "" }));
    assert.ok(!c.mayTopic(c.buf("#dev")));
    c.handle(ev({ event: "kick", room: "dev", nick: "ann", target: "bob", reason: "bye", text: "ann kicked bob from dev (bye)" }));
    c.handle(ev({ event: "part", room: "dev", nick: "cat", text: "cat left dev" }));
    assert.deepStrictEqual(members(c, "#dev"), ["@ann", "web"]);
    c.handle(ev({ event: "away", nick: "ann", reason: "lunch", text: "ann is away: lunch" }));
    assert.ok(c.buf("#dev").members.get("ann").away && c.buf("#lobby").members.get("ann").away);
    c.handle(ev({ event: "away", nick: "ann", text: "ann is back" }));
    assert.ok(!c.buf("#dev").members.get("ann").away);
    c.handle(ev({ event: "nick", nick: "ann", new: "Anna", text: "ann is now known as Anna" }));
    assert.deepStrictEqual(members(c, "#dev"), ["@Anna", "web"]);
    assert.deepStrictEqual(members(c, "#lobby"), ["Anna", "web"]);
    c.handle(ev({ event: "quit", nick: "anna", reason: "quit", text: "Anna left (quit)" }));
    assert.deepStrictEqual(members(c, "#dev"), ["web"]);
    assert.deepStrictEqual(members(c, "#lobby"), ["web"]);
    assert.strictEqual(last(c, "#lobby").text, "* Anna left (quit)");
    assert.strictEqual(last(c, "#dev").text, "* Anna left (quit)");
  },

  "our own nick, part and kick"() {
    const c = registered();
    c.handle(join("dev", "web"));
    c.handle(join("ops", "web"));
    c.handle(ev({ event: "nick", nick: "web", new: "w2", text: "web is now known as w2" }));
    assert.strictEqual(c.me, "w2");
    assert.deepStrictEqual(c.reconnected().slice(0, 1), ["/nick w2"]);
    const d = registered();
    enter(d, "dev");
    enter(d, "ops");
    d.handle(names("ops", [M("web", true)], null));
    assert.strictEqual(d.view, "#ops");
    assert.deepStrictEqual(d.leave("#ops"), ["/part ops"]);
    d.handle(ev({ event: "part", room: "ops", nick: "web", text: "web left ops" }));
    assert.ok(!d.buf("#ops"), "a room we left is closed");
    assert.strictEqual(d.current, "dev");
    assert.strictEqual(d.view, "#dev");
    d.handle(ev({ event: "kick", room: "dev", nick: "ann", target: "web", reason: "out", text: "ann kicked web from dev (out)" }));
    assert.ok(d.buf("#dev") && !d.buf("#dev").joined, "a kick leaves the room listed, not joined");
    assert.strictEqual(d.current, "lobby");
    assert.deepStrictEqual(d.join("dev"), ["/join dev"]);
    assert.deepStrictEqual(d.leave("#dev"), []);
    assert.ok(!d.buf("#dev"));
  },

  "the topic: shown from names and topic events, set with /topic #ROOM"() {
    const c = registered();
    assert.ok(c.mayTopic(c.buf("#lobby")), "the default room is -t");
    c.handle(ev({ event: "topic", room: "lobby", nick: "ann", topic: "<img src=x onerror=alert(1)>", text: "ann set the topic of lobby: <img src=x onerror=alert(1)>" }));
    assert.strictEqual(c.buf("#lobby").topic, "<img src=x onerror=alert(1)>");
    assert.deepStrictEqual(c.setTopic(c.buf("#lobby"), "a b"), ["/topic #lobby a b"]);
    c.handle(join("dev", "web"));
    c.handle(names("dev", [M("web", true)], null));
    assert.strictEqual(c.buf("#dev").topic, null);
    assert.ok(c.mayTopic(c.buf("#dev")), "op of a +t room");
  },

  "a names list cut at 200 still counts everyone"() {
    const c = registered();
    const many = Array.from({ length: 200 }, (_, i) => M("m" + i));
    c.handle(ev({ event: "names", room: "lobby", members: many, text: "members of lobby (1234): m0, … and 1034 more" }));
    assert.strictEqual(c.buf("#lobby").members.size, 200);
    assert.strictEqual(c.memberCount(c.buf("#lobby")), 1234);
    c.handle(join("lobby", "late"));
    assert.strictEqual(c.memberCount(c.buf("#lobby")), 1235);
    c.handle(ev({ event: "part", room: "lobby", nick: "unlisted1", text: "unlisted1 left lobby" }));
    c.handle(ev({ event: "part", room: "lobby", nick: "m3", text: "m3 left lobby" }));
    assert.strictEqual(c.memberCount(c.buf("#lobby")), 1233);
  },

  "/who output is shown only when asked for"() {
    const c = registered();
    const before = c.buf("#lobby").log.length;
    c.handle(names("lobby", [M("ann"), M("web")], null));
    assert.strictEqual(c.buf("#lobby").log.length, before);
    c.submit("/who");
    c.handle(names("lobby", [M("ann"), M("web")], null));
    assert.strictEqual(c.buf("#lobby").log.length, before + 1);
  },

  "an old server (text-only notices): one room, members from the words"() {
    const c = makeChat();
    c.handle(ev({ room: "lobby", text: "127.0.0.1:5000 joined lobby" }));
    assert.strictEqual(c.me, "127.0.0.1:5000");
    assert.strictEqual(c.view, "#lobby");
    assert.ok(!c.structured);
    c.handle(ev({ room: "lobby", text: "ann joined lobby" }));
    c.handle(ev({ text: "127.0.0.1:5000 is now known as web" }));
    assert.strictEqual(c.me, "web");
    assert.deepStrictEqual(members(c, "#lobby"), ["ann", "web"]);
    c.submit("/who");
    c.handle(ev({ room: "lobby", text: "members of lobby (3): ann, bob, web" }));
    assert.deepStrictEqual(members(c, "#lobby"), ["ann", "bob", "web"]);
    c.handle(ev({ text: "bob left (quit)" }));
    assert.deepStrictEqual(members(c, "#lobby"), ["ann", "web"]);
    assert.ok(!c.mayTopic(c.buf("#lobby")), "an old server has no /topic");
    // /part is /quit there: leaving the home room is not offered, another room moves home.
    assert.deepStrictEqual(c.leave("#lobby"), []);
    c.join("dev");
    c.handle(ev({ room: "dev", text: "web joined dev" }));
    assert.strictEqual(c.view, "#dev");
    assert.ok(!c.buf("#lobby").joined, "joining moved us");
    assert.deepStrictEqual(c.leave("#dev"), ["/join lobby"]);
    c.handle(ev({ room: "lobby", text: "web joined lobby" }));
    assert.strictEqual(c.view, "#lobby", "leaving shows the home room");
    assert.ok(!c.buf("#dev").joined);
    c.handle(msg("lobby", "ann", "hi"));
    assert.strictEqual(last(c, "#lobby").text, "hi");
  },

  "a reconnect asks for the nick and every room again, the shown one last"() {
    const c = registered();
    c.handle(ev({ event: "nick", nick: "web", new: "web2", text: "" }));
    c.handle(join("dev", "web2"));
    c.handle(join("ops", "web2"));
    c.select("#dev");
    assert.deepStrictEqual(c.reconnected(), ["/nick web2", "/join lobby", "/join ops", "/join dev"]);
    assert.ok(!c.buf("#dev").joined && c.buf("#dev").members.size === 0);
    assert.strictEqual(c.me, null);
    // The new registration: our join (under the address nick) comes first again.
    c.handle(join("lobby", "127.0.0.1:6000"));
    assert.strictEqual(c.me, "127.0.0.1:6000");
    c.handle(join("dev", "127.0.0.1:6000"));
    assert.strictEqual(c.view, "#dev");
  },

  "events from a peer that break the schema do not throw"() {
    const c = registered();
    for (const e of [null, 3, "x", [], {}, { type: 5 }, { type: "notice", event: "names", room: "lobby", members: [null, 1, { nick: 7 }] },
      { type: "notice", event: "mode", room: "lobby", modes: 5 }, { type: "notice", event: "nick" }, { type: "msg" },
      { type: "private" }, { type: "notice", event: "frobnicate", text: "new" }]) c.handle(e);
    assert.ok(c.bufs.size >= 2);
  },

  "random events and typing never throw and keep the state sane (5 seeds × 3000 steps)"() {
    for (const seed of [17, 42, 99, 1234, 77777]) randomRun(seed);
  },

  "a log keeps at most 1000 entries"() {
    const c = registered();
    c.select("#lobby");
    for (let i = 0; i < 1500; i++) c.handle(msg("lobby", "ann", "m" + i));
    assert.strictEqual(c.buf("#lobby").log.length, 1000);
    assert.strictEqual(last(c, "#lobby").text, "m1499");
  },
};

let failed = 0;
for (const [name, t] of Object.entries(tests)) {
  try {
    t();
    console.log("ok " + name);
  } catch (e) {
    failed++;
    console.log("FAIL " + name + "\n" + (e && e.stack));
  }
}
console.log(failed ? failed + " failed" : "all " + Object.keys(tests).length + " passed");
process.exit(failed ? 1 : 0);

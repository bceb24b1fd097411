"""A scripted client on the Python `irc` package (jaraco/irc), for the
real-client tests (irc_clients.rs).

Usage: python3 pyirc.py HOST PORT NICK [CERT]

With CERT (a PEM file), the connection is TLS, the server's certificate
checked against CERT (a self-signed one: no host name check).

Reads commands on stdin, one a line:
  join #CHAN | say TARGET TEXT | act TARGET TEXT | topic #CHAN TEXT |
  quit REASON | raw LINE
Prints every event the library parses, one a line, as
  EV TYPE SOURCE_NICK TARGET :ARG ARG ...
and `DISCONNECT` when the connection ends (then exits 0).
"""
import functools
import queue
import ssl
import sys
import threading
import time

import irc.client
import irc.connection

host, port, nick = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cert = sys.argv[4] if len(sys.argv) > 4 else None
commands = queue.Queue()
done = threading.Event()


def read_stdin():
    for line in sys.stdin:
        commands.put(line.rstrip("\n"))
    commands.put(None)


def on_any(conn, ev):
    if ev.type in ("all_raw_messages", "ping"):
        return
    source = ev.source.nick if isinstance(ev.source, irc.client.NickMask) and ev.source.nick else ev.source
    print("EV %s %s %s :%s" % (ev.type, source, ev.target, " ".join(str(a) for a in ev.arguments)), flush=True)


def on_disconnect(conn, ev):
    print("DISCONNECT", flush=True)
    done.set()


reactor = irc.client.Reactor()
reactor.add_global_handler("all_events", on_any, -10)
reactor.add_global_handler("disconnect", on_disconnect, -20)
try:
    factory = irc.connection.Factory()
    if cert:
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False
        factory = irc.connection.Factory(wrapper=functools.partial(ctx.wrap_socket, server_hostname=host))
    conn = reactor.server().connect(
        host, port, nick, username=nick, ircname="python irc " + nick, connect_factory=factory
    )
except irc.client.ServerConnectionError as e:
    print("CONNECT-FAILED %s" % e, flush=True)
    sys.exit(1)
threading.Thread(target=read_stdin, daemon=True).start()
# Bounded: the test drives a short scenario; a stuck run ends by itself.
deadline = time.monotonic() + 120
while not done.is_set() and time.monotonic() < deadline:
    reactor.process_once(0.05)
    while True:
        try:
            cmd = commands.get_nowait()
        except queue.Empty:
            break
        if cmd is None:
            conn.disconnect("stdin closed")
            break
        verb, _, rest = cmd.partition(" ")
        if verb == "join":
            conn.join(rest)
        elif verb == "say":
            target, _, text = rest.partition(" ")
            conn.privmsg(target, text)
        elif verb == "act":
            target, _, text = rest.partition(" ")
            conn.action(target, text)
        elif verb == "topic":
            chan, _, text = rest.partition(" ")
            conn.topic(chan, text)
        elif verb == "quit":
            conn.quit(rest)
        elif verb == "raw":
            conn.send_raw(rest)
        else:
            print("BAD-COMMAND %s" % cmd, flush=True)
sys.exit(0 if done.is_set() else 2)

# The test driver inside HexChat (loaded from its addons/ folder by the
# python plugin): HexChat has no FIFO, so this plugin runs the commands
# appended to CONFIGDIR/commands ("#channel<TAB>/command" or "<TAB>/command"
# for the server tab) and writes what HexChat shows to CONFIGDIR/events.log,
# one print event a line: "Event<TAB>context channel<TAB>word<TAB>word…".
# After each names list (366) it also writes "Names<TAB>#chan<TAB>@op +voice nick…"
# from HexChat's own user list, the one its GUI shows.
import os

import hexchat

__module_name__ = "sockit-test-driver"
__module_version__ = "1"
__module_description__ = "drives HexChat for sockit's IRC client tests"

DIR = hexchat.get_info("configdir")
LOG = open(os.path.join(DIR, "events.log"), "a", buffering=1)
COMMANDS = os.path.join(DIR, "commands")
EVENTS = [
    "Channel Message", "Your Message", "Channel Action", "Your Action", "You Join", "Join",
    "Part", "Kick", "You Kicked", "Topic Change", "Channel Operator", "Private Message to Dialog",
    "Private Action to Dialog", "Message Send", "Change Nick", "Your Nick Changing", "Quit",
    "Connected", "Disconnected", "Server Text", "Server Error", "Notice",
]
done = [0]


def write(fields):
    LOG.write("\t".join(f.replace("\t", " ").replace("\n", " ") for f in fields) + "\n")


def printed(name):
    def hook(word, word_eol, userdata):
        write([name, hexchat.get_info("channel") or ""] + list(word))
        return hexchat.EAT_NONE

    return hook


def names_end(word, word_eol, userdata):
    channel = word[3] if len(word) > 3 else ""
    ctx = hexchat.find_context(channel=channel)
    if ctx is not None:
        users = [u.prefix + u.nick for u in ctx.get_list("users")]
        write(["Names", channel, " ".join(sorted(users))])
    return hexchat.EAT_NONE


def tick(userdata):
    try:
        with open(COMMANDS, "rb") as f:
            f.seek(done[0])
            data = f.read()
    except FileNotFoundError:
        return True
    while b"\n" in data:
        line, data = data.split(b"\n", 1)
        done[0] += len(line) + 1
        channel, _, command = line.decode().partition("\t")
        ctx = hexchat.find_context(channel=channel) if channel else hexchat.find_context()
        (ctx or hexchat).command(command.lstrip("/"))
    return True


for event in EVENTS:
    hexchat.hook_print(event, printed(event))
# A line that mentions our nick is printed as a highlight: the same message.
hexchat.hook_print("Channel Msg Hilight", printed("Channel Message"))
hexchat.hook_print("Channel Action Hilight", printed("Channel Action"))
hexchat.hook_server("366", names_end)
hexchat.hook_timer(50, tick)
write(["Ready"])

#!/usr/bin/env bash
# The one test command: installs the peers the tests talk to, then runs
# formatting, lints, every test (unit, property, integration against real
# peers) and short fuzz runs. Safe to run again; installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
FUZZ_SECS=${FUZZ_SECS:-10}

step() { printf '\n== %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }

step "peers"
# command -> Debian package
peers="nc:netcat-openbsd socat:socat curl:curl openssl:openssl rdate:rdate chronyd:chrony ncat:ncat nginx:nginx-light wrk:wrk chromium:chromium python3:python3 ii:ii irssi:irssi tmux:tmux weechat-headless:weechat-headless ngircd:ngircd hexchat:hexchat Xvfb:xvfb redis-server:redis-server"
missing=""
for pair in $peers; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
# WeeChat's fifo plugin: the IRC client tests drive weechat-headless through it
ls /usr/lib/*/weechat/plugins/fifo.so >/dev/null 2>&1 || missing="$missing weechat-plugins"
# HexChat's Python plugin: the HexChat client test drives it through a plugin
ls /usr/lib/*/hexchat/plugins/python.so >/dev/null 2>&1 || missing="$missing hexchat-python3"
# time zone data for the strftime tests that set TZ
[ -e /usr/share/zoneinfo/Asia/Kolkata ] || missing="$missing tzdata"
if [ -n "$missing" ]; then
  echo "installing:$missing"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# chronyd is only run as a one-shot client (-Q) by the tests; make sure a
# packaged service does not hold port 123 or adjust this machine's clock.
if command -v systemctl >/dev/null 2>&1; then systemctl stop chrony >/dev/null 2>&1 || true; fi
pkill -x chronyd >/dev/null 2>&1 || true
# ngircd is only run by the IRC client tests, on a private port with a
# config of their own; the packaged service is not needed.
if [ -x /etc/init.d/ngircd ]; then /etc/init.d/ngircd stop >/dev/null 2>&1 || true; fi
# redis-server is only run by the chat cluster tests, each on a private
# port with no persistence; the packaged service is not needed.
if command -v systemctl >/dev/null 2>&1; then systemctl stop redis-server >/dev/null 2>&1 || true; fi
if [ -x /etc/init.d/redis-server ]; then /etc/init.d/redis-server stop >/dev/null 2>&1 || true; fi
# The Python irc package (jaraco/irc), a real client in tests/irc_clients.rs.
if ! python3 -c 'import irc.client' >/dev/null 2>&1; then
  echo "installing: python irc package"
  python3 -m pip install --quiet --disable-pip-version-check irc
fi

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets -- -D warnings

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
  cargo test --workspace --doc
else
  cargo test --workspace --no-fail-fast
fi

step "fuzz (${FUZZ_SECS}s per target)"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi
export CARGO_TARGET_DIR="$PWD/target/fuzz"
for dir in crates/*/fuzz; do
  [ -d "$dir" ] || continue
  for target in $(cargo fuzz list --fuzz-dir "$dir"); do
    echo "-- $dir $target"
    RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir "$dir" "$target" -- -max_total_time="$FUZZ_SECS" -rss_limit_mb=2048 2>&1 | tail -n 2
  done
done

step "all green"

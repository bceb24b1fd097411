# Shared set-up of the transfer benches; source it after setting SIZE_MIB
# and NEEDS ("command:package" pairs). Builds sockit, checks the peers are
# installed, and leaves: BIN (the release binary), WORK (a temp folder,
# removed at exit), SRC (a SIZE_MIB MiB random file in it, written by
# `head`, so in small page-cache folios), BYTES, and port() (a free
# loopback port).

cargo build --release -q
BIN=$PWD/target/release/sockit
for need in $NEEDS; do
    command -v "${need%%:*}" >/dev/null || { echo "missing ${need%%:*} (apt-get install ${need#*:})"; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sockit-bench-transfer.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/src.bin
echo "making a ${SIZE_MIB} MiB random file in $WORK …"
head -c $((SIZE_MIB << 20)) /dev/urandom >"$SRC"
BYTES=$(stat -c %s "$SRC")

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

#!/bin/sh
# dpdk.sh: DPDK's testpmd (virtio-user as the vhost-user frontend) drives cellvm-net; a peer on the tap counts both ways.
set -u
BUILD=${BUILD:-build}
NET=$BUILD/cellvm-net
NS=cellvm-dpdk-$$
TAP=cvtap0
BURSTS=10           # testpmd "start tx_first 10": 10 bursts of 32 frames
NSEND=5000          # frames the peer sends to testpmd
T=$(mktemp -d /tmp/cellvm-dpdk.XXXXXX)
PID= PEER=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	[ -n "$PEER" ] && kill "$PEER" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T" "/var/run/dpdk/cellvm$$"
}
trap cleanup EXIT
skip() { echo "SKIP net-dpdk: $1"; exit 0; }

command -v dpdk-testpmd >/dev/null || skip "dpdk-testpmd is not installed (Debian package dpdk-dev)"
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace (CAP_NET_ADMIN needed)"
nsx() { ip netns exec "$NS" "$@"; }
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
nsx ip tuntap add dev "$TAP" mode tap vnet_hdr && nsx ip link set "$TAP" up || skip "cannot create a tap"

nsx "$NET" --socket "$T/sock" --tap "$TAP" 2>"$T/log" &
PID=$!
nsx /usr/bin/python3 tests/net/peer.py "$TAP" $((BURSTS * 32)) $NSEND "$T/peer" &
PEER=$!
i=0
while { [ ! -S "$T/sock" ] || [ ! -f "$T/peer.ready" ]; } && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done

# testpmd: send BURSTS bursts, then count what arrives until the peer is done. No hugepages:
# --no-huge memory is memfd-backed, which virtio-user can share with the backend.
{
	echo "set fwd rxonly"
	echo "start tx_first $BURSTS"
	i=0
	while [ ! -s "$T/peer" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
	sleep 0.5
	echo stop
	echo quit
} | timeout 60 dpdk-testpmd -l 0-1 --no-pci --no-huge -m 256 --single-file-segments --file-prefix "cellvm$$" \
	--vdev "net_virtio_user0,path=$T/sock,queues=1" -- -i --total-num-mbufs=8192 >"$T/pmd" 2>&1
wait "$PEER"; PEER=
kill "$PID" 2>/dev/null; wait "$PID"; PID=

tx=$(awk '/Accumulated/ {a=1} a && /TX-packets/ {print $2; exit}' "$T/pmd")
rx=$(awk '/Accumulated/ {a=1} a && /RX-packets/ {print $2; exit}' "$T/pmd")
read -r got sent <"$T/peer" 2>/dev/null || { got=?; sent=?; }
echo "net-dpdk: testpmd sent ${tx:-?}, the peer got $got; the peer sent $sent, testpmd got ${rx:-?}"
if [ "${tx:-}" = $((BURSTS * 32)) ] && [ "$got" = "$tx" ] && [ "${rx:-}" = "$sent" ]; then
	echo "PASS net-dpdk"
else
	echo "FAIL net-dpdk"
	tail -n 15 "$T/pmd" | sed 's/^/    | /'
	sed 's/^/    | /' "$T/log" | tail -n 5
	exit 1
fi

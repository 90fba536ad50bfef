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
pmd_case() { # queue pairs
	q=$1 name=net-dpdk; [ "$q" -gt 1 ] && name=net-dpdk-mq$q
	mq=; [ "$q" -gt 1 ] && mq=multi_queue
	rm -f "$T/sock" "$T/peer" "$T/peer.ready"
	nsx ip link del "$TAP" 2>/dev/null
	# A long tap queue: cellvm-net may be descheduled for a while on 2 shared cores.
	nsx ip tuntap add dev "$TAP" mode tap vnet_hdr $mq && nsx ip link set "$TAP" txqueuelen 10000 up ||
		skip "cannot create a tap"
	nsx "$NET" --socket "$T/sock" --tap "$TAP" --num-queues "$q" 2>"$T/log" &
	PID=$!
	# testpmd sends BURSTS bursts per queue; the peer counts them, then sends NSEND.
	nsx /usr/bin/python3 tests/net/peer.py "$TAP" $((BURSTS * 32 * q)) $NSEND "$T/peer" &
	PEER=$!
	i=0
	while { [ ! -S "$T/sock" ] || [ ! -f "$T/peer.ready" ]; } && [ $i -lt 100 ]; do
		sleep 0.05; i=$((i + 1))
	done
	# No hugepages: --no-huge memory is memfd-backed, which virtio-user shares with the backend.
	{
		echo "set fwd rxonly"
		echo "start tx_first $BURSTS"
		i=0
		while [ ! -s "$T/peer" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
		sleep 0.5
		echo stop
		echo quit
	} | timeout 60 dpdk-testpmd -l 0-1 --no-pci --no-huge -m 256 --single-file-segments \
		--file-prefix "cellvm$$" --vdev "net_virtio_user0,path=$T/sock,queues=$q" -- -i \
		--rxq="$q" --txq="$q" --total-num-mbufs=8192 >"$T/pmd" 2>&1
	wait "$PEER"; PEER=
	kill "$PID" 2>/dev/null; wait "$PID"; PID=

	tx=$(awk '/Accumulated/ {a=1} a && /TX-packets/ {print $2; exit}' "$T/pmd")
	rx=$(awk '/Accumulated/ {a=1} a && /RX-packets/ {print $2; exit}' "$T/pmd")
	read -r got sent <"$T/peer" 2>/dev/null || { got=?; sent=?; }
	echo "$name: testpmd sent ${tx:-?}, the peer got $got; the peer sent $sent, testpmd got ${rx:-?}"
	if [ "${tx:-}" = $((BURSTS * 32 * q)) ] && [ "$got" = "$tx" ] && [ "${rx:-}" = "$sent" ]; then
		echo "PASS $name"
	else
		echo "FAIL $name"
		tail -n 15 "$T/pmd" | sed 's/^/    | /'
		sed 's/^/    | /' "$T/log" | tail -n 5
		fail=1
	fi
}

fail=0
pmd_case 1
pmd_case 2
exit $fail

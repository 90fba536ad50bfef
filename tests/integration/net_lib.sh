# net_lib.sh: helpers for the net integration tests: fresh taps, the host peer (net_peer.py)
# beside a guest run, and the root/tun check. Sourced by t_probe_net_*.sh.
NET_PEER=$(dirname "${BASH_SOURCE[0]}")/net_peer.py
NET_GUEST_MAC=52:54:00:ce:11:02
export NET_PEER NET_GUEST_MAC

# net_tap_up NAME QUEUES: a fresh persistent tap (multi_queue when QUEUES > 1), up, no IPv6.
net_tap_up() {
	ip link del "$1" 2>/dev/null
	if [ "$2" -gt 1 ]; then
		ip tuntap add dev "$1" mode tap multi_queue || return 99
	else
		ip tuntap add dev "$1" mode tap || return 99
	fi
	sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" 2>/dev/null
	ip link set dev "$1" up
}

# net_with_peer TAP QUEUES PEER_MODE CMD...: the peer (unless PEER_MODE is none) listens on a
# fresh tap while CMD runs the guest; CMD's status is returned, or 97 if the peer failed.
net_with_peer() {
	local tap=$1 nq=$2 mode=$3 pid="" rc prc=0 i
	shift 3
	net_tap_up "$tap" "$nq" || return 99
	if [ "$mode" != none ]; then
		/usr/bin/python3 "$NET_PEER" "$tap" "$mode" "$NET_GUEST_MAC" 50 >"$TMP/$tap.peer" 2>&1 &
		pid=$!
		for i in $(seq 100); do grep -q listening "$TMP/$tap.peer" && break; sleep 0.05; done
	fi
	"$@"
	rc=$?
	if [ -n "$pid" ]; then
		for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
		kill "$pid" 2>/dev/null
		wait "$pid"
		prc=$?
		cat "$TMP/$tap.peer"
	fi
	ip link del "$tap" 2>/dev/null
	if [ "$prc" -ne 0 ]; then
		echo "net peer failed (status $prc)"
		return 97
	fi
	return $rc
}

export -f net_tap_up net_with_peer

# net_can_run NAME: prints a SKIP line and fails unless taps can be made here.
net_can_run() {
	if [ "$(id -u)" -ne 0 ]; then
		skip "$1" "not root: cannot create tap devices"
	elif [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null; then
		skip "$1" "no /dev/net/tun or no ip(8)"
	elif [ ! -x /usr/bin/python3 ]; then
		skip "$1" "/usr/bin/python3 (the host peer) is missing"
	else
		return 0
	fi
	return 1
}


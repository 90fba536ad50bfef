# t_probe_net_qemu.sh: the probe's virtio-net driver against QEMU's own virtio-net-pci (q35,
# TCG) on a tap, with net_peer.py on the host end checking every frame byte for byte. Passing
# here makes the probe a valid driver for the same tests on cellvm. QEMU exit v -> (v<<1)|1.
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

# qemu_net TAP QUEUES PEER_MODE APPEND
qemu_net() {
	net_with_peer "$1" "$2" "$3" qemu-system-x86_64 -M q35 -accel tcg -nodefaults -no-user-config -nographic \
		-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -m 128M -kernel "$ELF" -append "$4" \
		-netdev "tap,id=n0,ifname=$1,script=no,downscript=no,vhost=off,queues=$2" \
		-device "virtio-net-pci,netdev=n0,mac=$NET_GUEST_MAC,disable-legacy=on,mq=on"
}
export -f net_tap_up net_with_peer qemu_net

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

if ! command -v qemu-system-x86_64 >/dev/null; then
	skip qemu-probe-net "qemu-system-x86_64 is not installed"
elif net_can_run qemu-probe-net; then
	expect qemu-net-tx 1 "test net-tx: PASS" qemu_net cvq0 1 tx "test=net-tx"
	expect qemu-net-tx-peer 0 "peer: tx: OK" cat "$TMP/cvq0.peer"
	expect qemu-net-rx 1 "test net-rx: PASS" qemu_net cvq1 1 rx "test=net-rx"
	expect qemu-net-rx-peer 0 "peer: rx: OK" cat "$TMP/cvq1.peer"
	expect qemu-net-mq 1 "test net-mq: PASS" qemu_net cvq2 2 mq "test=net-mq"
	expect qemu-net-mq-peer 0 "peer: mq: OK" cat "$TMP/cvq2.peer"
	expect qemu-net-ctrl-bad 1 "test net-ctrl-bad: PASS" qemu_net cvq3 2 none "test=net-ctrl-bad"
	# without mq=on the device has no control queue: net-mq must say so and fail
	expect qemu-net-mq-not-offered 3 "FAIL: VIRTIO_NET_F_CTRL_VQ and VIRTIO_NET_F_MQ not both offered" \
		net_with_peer cvq4 1 none qemu-system-x86_64 -M q35 -accel tcg -nodefaults -no-user-config -nographic \
		-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -m 128M -kernel "$ELF" -append test=net-mq \
		-netdev tap,id=n0,ifname=cvq4,script=no,downscript=no,vhost=off \
		-device "virtio-net-pci,netdev=n0,mac=$NET_GUEST_MAC,disable-legacy=on,ctrl_vq=off"
fi

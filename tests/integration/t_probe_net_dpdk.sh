# t_probe_net_dpdk.sh: the probe's virtio-net tests on cellvm with DPDK as the external
# vhost-user backend: dpdk-testpmd serves net_vhost0 (it listens on the socket, cellvm connects
# through its broker) and forwards (io mode) to net_tap0, a tap testpmd creates, where
# net_peer.py checks every frame byte for byte. No hugepages: --no-huge memory is enough for
# the backend's mbufs (the guest memory it maps is cellvm's memfd).
. "$(dirname "${BASH_SOURCE[0]}")/net_lib.sh"

# dpdk_net TAP PAIRS PEER_MODE APPEND: testpmd, then the peer on its tap, then the guest.
# Prints the three logs; status: the guest's, 97 if the peer failed, 96 if testpmd did not
# come up, 95 if it forwarded nothing.
dpdk_net() {
	local tap=$1 nq=$2 mode=$3 sock="$TMP/$1.sock" done="$TMP/$1.done" pmd rc prc i
	rm -f "$sock" "$done"
	ip link del "$tap" 2>/dev/null
	{ # testpmd quits when the guest is done, or after 50 s
		for i in $(seq 500); do [ -e "$done" ] && break; sleep 0.1; done
		echo stop
		echo quit
	} | dpdk-testpmd -l 0-1 --no-pci --no-huge -m 256 --single-file-segments \
		--file-prefix "cellvm-it-$tap" --vdev "net_vhost0,iface=$sock,queues=$nq" \
		--vdev "net_tap0,iface=$tap" -- -i --forward-mode=io --auto-start \
		--rxq="$nq" --txq="$nq" --total-num-mbufs=8192 >"$TMP/$tap.pmd" 2>&1 &
	pmd=$!
	for i in $(seq 200); do
		[ -S "$sock" ] && ip link show "$tap" >/dev/null 2>&1 && break
		sleep 0.05
	done
	if [ ! -S "$sock" ] || ! ip link show "$tap" >/dev/null 2>&1; then
		touch "$done"
		wait "$pmd"
		rm -rf "/var/run/dpdk/cellvm-it-$tap"
		tail -n 15 "$TMP/$tap.pmd"
		echo "testpmd did not create $sock and $tap"
		return 96
	fi
	sysctl -qw "net.ipv6.conf.$tap.disable_ipv6=1" 2>/dev/null
	/usr/bin/python3 "$NET_PEER" "$tap" "$mode" "$NET_GUEST_MAC" 40 >"$TMP/$tap.peer" 2>&1 &
	prc=$!
	for i in $(seq 100); do grep -q listening "$TMP/$tap.peer" && break; sleep 0.05; done
	"$CELLVM" --kernel "$ELF" --memory size=128M --debug-exit --cmdline "$4" -v \
		--net "vhost_user=true,socket=$sock,mac=$NET_GUEST_MAC,num_queues=$((2 * nq))"
	rc=$?
	for i in $(seq 100); do kill -0 "$prc" 2>/dev/null || break; sleep 0.05; done
	kill "$prc" 2>/dev/null
	wait "$prc"
	prc=$?
	touch "$done"
	wait "$pmd"
	rm -rf "/var/run/dpdk/cellvm-it-$tap"
	cat "$TMP/$tap.peer"
	sed -n '/Accumulated forward statistics/,/+++++$/p' "$TMP/$tap.pmd"
	[ "$prc" -eq 0 ] || { echo "net peer failed (status $prc)"; return 97; }
	grep -Eq "TX-packets: [1-9]" "$TMP/$tap.pmd" || { echo "testpmd forwarded nothing"; return 95; }
	return $rc
}
export -f dpdk_net

if ! command -v dpdk-testpmd >/dev/null; then
	skip cellvm-dpdk-net "dpdk-testpmd is not installed (Debian package dpdk-dev)"
elif net_can_run cellvm-dpdk-net; then
	expect cellvm-dpdk-net-tx 0 "test net-tx: PASS" dpdk_net cvdp0 1 tx "test=net-tx"
	expect cellvm-dpdk-net-tx-peer 0 "peer: tx: OK" cat "$TMP/cvdp0.peer"
	expect cellvm-dpdk-net-rx 0 "test net-rx: PASS" dpdk_net cvdp1 1 rx "test=net-rx"
	expect cellvm-dpdk-net-rx-peer 0 "peer: rx: OK" cat "$TMP/cvdp1.peer"
	expect cellvm-dpdk-net-mq 0 "test net-mq: PASS" dpdk_net cvdp2 2 mq "test=net-mq"
	expect cellvm-dpdk-net-mq-peer 0 "peer: mq: OK" cat "$TMP/cvdp2.peer"
fi

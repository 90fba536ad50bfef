# t_probe_net_cellvm.sh: the probe's virtio-net tests on cellvm: virtio-pci with the control
# queue served in the VMM, cellvm-net on a tap (by name, by inherited fds, or as an external
# vhost-user backend), net_peer.py checking every frame on the host end.
. "$(dirname "${BASH_SOURCE[0]}")/net_lib.sh"

# cellvm_net TAP PAIRS PEER_MODE APPEND [MORE --net OPTIONS]
cellvm_net() {
	net_with_peer "$1" "$2" "$3" "$CELLVM" --kernel "$ELF" --memory size=128M --debug-exit \
		--cmdline "$4" --net "tap=$1,mac=$NET_GUEST_MAC,num_queues=$((2 * $2))$5" -v
}
# cellvm_net_fds TAP PAIRS PEER_MODE APPEND FDS: the tap queues opened by the caller (as Kata
# does); FDS is {fds} (fd=A,fd=B) or {fdlist} (fd=[A,B]).
cellvm_net_fds() {
	net_with_peer "$1" "$2" "$3" /usr/bin/python3 "$(dirname "$NET_PEER")/tapfds.py" "$1" "$2" \
		"$CELLVM" --kernel "$ELF" --memory size=128M --debug-exit --cmdline "$4" \
		--net "$5,mac=$NET_GUEST_MAC" -v
}
# cellvm_net_vu TAP PAIRS PEER_MODE APPEND: cellvm-net started by hand, cellvm connects.
cellvm_net_vu() {
	local sock="$TMP/$1.sock" pid rc
	rm -f "$sock"
	net_with_peer "$1" "$2" "$3" bash -c '
		"$BUILD/cellvm-net" --socket "$5" --tap "$1" --num-queues "$2" --mac "$NET_GUEST_MAC" &
		pid=$!
		for _ in $(seq 100); do [ -S "$5" ] && break; sleep 0.05; done
		"$CELLVM" --kernel "$ELF" --memory size=128M --debug-exit --cmdline "$4" \
			--net "vhost_user=true,socket=$5,num_queues=$((2 * $2))"
		rc=$?
		wait "$pid"
		exit $rc' bash "$1" "$2" "$3" "$4" "$sock"
}
# cellvm_net_vu_short TAP: cellvm-net serves one pair, cellvm asks two: refused at start-up.
cellvm_net_vu_short() {
	local sock="$TMP/$1.sock" pid rc
	rm -f "$sock"
	net_tap_up "$1" 1 || return 99
	"$BUILD/cellvm-net" --socket "$sock" --tap "$1" --num-queues 1 &
	pid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	"$CELLVM" --kernel "$ELF" --memory size=64M --debug-exit --net "vhost_user=true,socket=$sock,num_queues=4"
	rc=$?
	kill "$pid" 2>/dev/null
	wait "$pid"
	ip link del "$1" 2>/dev/null
	return $rc
}
export -f cellvm_net cellvm_net_fds cellvm_net_vu cellvm_net_vu_short

if [ ! -x "$BUILD/cellvm-net" ]; then
	skip cellvm-probe-net "$BUILD/cellvm-net is not built"
elif net_can_run cellvm-probe-net; then
	expect cellvm-net-tx 0 "test net-tx: PASS" cellvm_net cvc0 1 tx "test=net-tx"
	expect cellvm-net-tx-peer 0 "peer: tx: OK" cat "$TMP/cvc0.peer"
	expect cellvm-net-rx 0 "test net-rx: PASS" cellvm_net cvc1 1 rx "test=net-rx"
	expect cellvm-net-rx-peer 0 "peer: rx: OK" cat "$TMP/cvc1.peer"
	expect cellvm-net-mq 0 "test net-mq: PASS" cellvm_net cvc2 2 mq "test=net-mq"
	expect cellvm-net-mq-peer 0 "peer: mq: OK" cat "$TMP/cvc2.peer"
	# two pairs offered, one used: the unused tap queue leaves the steering, no flow is lost
	expect cellvm-net-mq-one-pair 0 "test net-mq-one: PASS" cellvm_net cvc6 2 rx "test=net-mq-one"
	expect cellvm-net-mq-one-pair-peer 0 "peer: rx: OK" cat "$TMP/cvc6.peer"
	expect cellvm-net-ctrl-bad 0 "test net-ctrl-bad: PASS" cellvm_net cvc3 2 none "test=net-ctrl-bad"
	expect cellvm-net-ctrl-ring-loop 0 "queue 4 \(served by cellvm\).*device needs reset" cellvm_net cvc6 2 none \
		"test=net-ctrl-ring-bad bad=loop"
	expect cellvm-net-ctrl-ring-loop-recovers 0 "test net-ctrl-ring-bad: PASS" cat "$TMP/cellvm-net-ctrl-ring-loop.out"
	# QEMU maps an address outside RAM as unassigned I/O and runs the command; cellvm refuses it
	expect cellvm-net-ctrl-ring-oob 0 "test net-ctrl-ring-bad: PASS" cellvm_net cvc7 2 none "test=net-ctrl-ring-bad bad=oob"
	expect cellvm-net-fds-mq 0 "test net-mq: PASS" cellvm_net_fds cvc4 2 mq "test=net-mq" "{fds}"
	expect cellvm-net-fdlist-rx 0 "test net-rx: PASS" cellvm_net_fds cvc8 1 rx "test=net-rx" "{fdlist}"
	expect cellvm-net-fdlist-rx-peer 0 "peer: rx: OK" cat "$TMP/cvc8.peer"
	expect cellvm-net-fds-mq-peer 0 "peer: mq: OK" cat "$TMP/cvc4.peer"
	expect cellvm-net-vhost-user-mq 0 "test net-mq: PASS" cellvm_net_vu cvc5 2 mq "test=net-mq"
	expect cellvm-net-vhost-user-mq-peer 0 "peer: mq: OK" cat "$TMP/cvc5.peer"
	expect cellvm-net-vhost-user-short 2 "backend serves 1 queue pair\(s\), 2 asked" cellvm_net_vu_short cvc9
fi
expect cellvm-net-needs-a-kind 2 "give exactly one of tap=NAME" "$CELLVM" --kernel "$ELF" --net mac=52:54:00:00:00:01
expect cellvm-net-odd-queues 2 "num_queues counts rx \+ tx queues" "$CELLVM" --kernel "$ELF" --net tap=x,num_queues=3
expect cellvm-net-bad-mac 2 "mac must be xx:xx:xx:xx:xx:xx" "$CELLVM" --kernel "$ELF" --net tap=x,mac=52:54:00:00:00
expect cellvm-net-fds-vs-queues 2 "2 fd= given for num_queues=2" "$CELLVM" --kernel "$ELF" --net fd=3,fd=4,num_queues=2
expect cellvm-net-closed-fd 2 "fd=987: not an open file descriptor" "$CELLVM" --kernel "$ELF" --memory size=64M --net fd=987
expect cellvm-net-fd-not-a-tap 2 "fd=0: not a tap queue" "$CELLVM" --kernel "$ELF" --memory size=64M --net fd=0

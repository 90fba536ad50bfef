# t_blk_inflight.sh: cellvm-blk dies with requests in flight at queue depth 8 (the probe's
# driver, through cellvm's frontend and through QEMU's vhost-user-blk-pci with a reconnecting
# chardev): the new backend resubmits them from the inflight region the frontend kept, and
# the probe's every chunk reads back right.

# inflight_flags PID: how many heads the backend process PID has flagged in flight in its
# region (its mapping of the memfd, through /proc/PID/map_files; queue 0: a 16-byte header,
# then 16 bytes per head, the flag first); -1 if it has no region.
inflight_flags() {
	local f
	f=$(ls -l "/proc/$1/map_files" 2>/dev/null | awk '/memfd:cellvm-inflight/ { print $9; exit }')
	[ -n "$f" ] || { echo -1; return; }
	od -An -v -tu1 -w16 -j16 "/proc/$1/map_files/$f" 2>/dev/null | awk '$1 == 1 { n++ } END { print n + 0 }'
}

# stop_in_flight WAITER VM: stops cellvm-blk's worker (WAITER's child) at a moment when its
# region shows requests in flight, then kills both; 0 if it caught some before the VM ended.
# The worker is stopped to read a stable region, and let go again when nothing was in flight.
stop_in_flight() {
	local w="" n
	for _ in $(seq 200); do
		w=$(pgrep -P "$1" | head -n1)
		[ -n "$w" ] && [ "$(inflight_flags "$w")" -ge 0 ] && break
		sleep 0.05
	done
	while [ -n "$w" ] && kill -0 "$2" 2>/dev/null; do
		kill -STOP "$w"
		n=$(inflight_flags "$w")
		if [ "$n" -gt 0 ]; then
			echo "backend stopped with $n requests in flight"
			kill -9 "$w" "$1"
			return 0
		fi
		kill -CONT "$w"
	done
	echo "never saw a request in flight"
	kill -9 "$1"
	return 1
}

# vm_cellvm SOCK OUT APPEND / vm_qemu SOCK OUT APPEND: the probe as the backend's frontend, in
# the background (its pid in VPID). QEMU (TCG, shared memfd RAM) reconnects to the socket
# every second after the backend dies, and exits through isa-debug-exit: v -> (v<<1)|1.
vm_cellvm() {
	"$CELLVM" --kernel "$ELF" --memory size=64M --debug-exit -v --disk "vhost_user=true,socket=$1" \
		--cmdline "$3" >"$2" 2>&1 &
	VPID=$!
}
vm_qemu() {
	qemu-system-x86_64 -M q35 -accel tcg -nodefaults -no-user-config -nographic -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -m 128M -kernel "$ELF" -append "$3" \
		-object memory-backend-memfd,id=mem,size=128M,share=on -numa node,memdev=mem \
		-chardev "socket,id=c0,path=$1,reconnect=1" \
		-device vhost-user-blk-pci,chardev=c0,disable-legacy=on >"$2" 2>&1 </dev/null &
	VPID=$!
}

# blk_inflight NAME VM [RESETS]: the probe writes and verifies 8 chunks at a time while the
# backend is stopped mid-flight, killed and started again. With RESETS the driver also resets
# the device RESETS times (every 8/(RESETS+1) s), and the backend dies only after the first
# reset: the region it then leaves must be the one of the new set-up, not the first one.
blk_inflight() {
	local img="$TMP/$1.img" sock="$TMP/$1.sock" out="$TMP/$1.console" bpid vpid rc caught VPID
	rm -f "$img" "$sock"
	truncate -s 8M "$img"
	"$BUILD/cellvm-blk" --socket "$sock" --path "$img" 2>"$TMP/$1.b1.log" &
	bpid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	local ready="blk-reconnect: running"
	[ -z "${3:-}" ] || ready="blk-reconnect: device reset 1,"
	"$2" "$sock" "$out" "test=blk-reconnect blk_secs=8 blk_qd=8 blk_resets=${3:-0}"
	vpid=$VPID
	for _ in $(seq 600); do grep -q "$ready" "$out" && break; sleep 0.05; done
	stop_in_flight "$bpid" "$vpid"
	caught=$?
	wait "$bpid" 2>/dev/null
	sleep 0.3
	"$BUILD/cellvm-blk" --socket "$sock" --path "$img" 2>"$TMP/$1.b2.log" &
	bpid=$!
	wait "$vpid"
	rc=$?
	kill "$bpid" 2>/dev/null
	wait "$bpid" 2>/dev/null
	cat "$out" "$TMP/$1.b2.log"
	[ "$caught" -eq 0 ] || return 3
	return $rc
}
export -f blk_inflight stop_in_flight inflight_flags vm_cellvm vm_qemu

if [ ! -x "$BUILD/cellvm-blk" ]; then
	skip blk-inflight "build/cellvm-blk is not built"
elif [ "$(id -u)" != 0 ]; then
	skip blk-inflight "reading cellvm-blk's inflight region through /proc/PID/map_files needs root"
else
	expect blk-inflight 0 "test blk-reconnect: PASS" blk_inflight inf1 vm_cellvm
	expect blk-inflight-resubmitted 0 "resubmitting [1-9][0-9]* requests left in flight" \
		cat "$TMP/inf1.b2.log"
	expect blk-inflight-data-on-file 1 "" cmp -s -n 8388608 "$TMP/inf1.img" /dev/zero
	expect blk-inflight-after-reset 0 "test blk-reconnect: PASS" blk_inflight inf2 vm_cellvm 3
	expect blk-inflight-after-reset-resubmitted 0 "resubmitting [1-9][0-9]* requests left in flight" \
		cat "$TMP/inf2.b2.log"
	if ! command -v qemu-system-x86_64 >/dev/null; then
		skip qemu-blk-inflight "qemu-system-x86_64 is not installed"
	else
		expect qemu-blk-inflight 1 "test blk-reconnect: PASS" blk_inflight qinf1 vm_qemu
		expect qemu-blk-inflight-resubmitted 0 "resubmitting [1-9][0-9]* requests left in flight" \
			cat "$TMP/qinf1.b2.log"
		expect qemu-blk-inflight-after-reset 1 "test blk-reconnect: PASS" blk_inflight qinf2 vm_qemu 3
		expect qemu-blk-inflight-after-reset-resubmitted 0 \
			"resubmitting [1-9][0-9]* requests left in flight" cat "$TMP/qinf2.b2.log"
	fi
fi

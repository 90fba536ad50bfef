# t_blk_reconnect.sh: an external vhost-user-blk backend (cellvm-blk started by hand) is killed
# mid-run: a new one on the same socket and image is picked up and the probe's I/O goes on;
# one that never comes back leaves the device NEEDS_RESET after the grace period.

# start_backend KIND IMG SOCK: cellvm-blk or qemu-storage-daemon serving IMG on SOCK.
start_backend() {
	rm -f "$3"
	if [ "$1" = qsd ]; then
		qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$2" \
			--export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$3,writable=on" &
	else
		"$BUILD/cellvm-blk" --socket "$3" --path "$2" &
	fi
}

# blk_reconnect NAME TEST RESTART KIND: a KIND backend on NAME.sock, the probe runs TEST; once
# it says it runs, the backend is killed with SIGKILL and, if RESTART is 1, started again.
blk_reconnect() {
	local img="$TMP/$1.img" sock="$TMP/$1.sock" out="$TMP/$1.console" bpid vpid rc line
	rm -f "$img"
	truncate -s 8M "$img"
	start_backend "$4" "$img" "$sock"
	bpid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	line="blk-reconnect: running|waiting for it to fail"
	"$CELLVM" --kernel "$ELF" --memory size=64M --debug-exit --cmdline "$2" \
		--disk "vhost_user=true,socket=$sock" -v >"$out" 2>&1 &
	vpid=$!
	for _ in $(seq 600); do grep -Eq "$line" "$out" && break; sleep 0.05; done
	grep -Eq "$line" "$out" || echo "the probe never started its test (30 s)"
	sleep 1
	kill -9 "$bpid"
	wait "$bpid" 2>/dev/null
	if [ "$3" = 1 ]; then
		sleep 0.3
		start_backend "$4" "$img" "$sock"
		bpid=$!
	fi
	wait "$vpid"
	rc=$?
	[ "$3" = 1 ] && { kill "$bpid" 2>/dev/null; wait "$bpid" 2>/dev/null; }
	cat "$out"
	return $rc
}
export -f blk_reconnect start_backend

if [ -x "$BUILD/cellvm-blk" ]; then
	expect blk-reconnect 0 "test blk-reconnect: PASS" blk_reconnect rc1 "test=blk-reconnect blk_secs=4" 1 cellvm-blk
	expect blk-reconnect-logged 0 "hung up; reconnecting for up to 10 s" cat "$TMP/rc1.console"
	expect blk-reconnect-back 0 "is back after [0-9]+ ms; requests resumed" cat "$TMP/rc1.console"
	# cellvm-blk tracks requests in flight (PROTOCOL_F_INFLIGHT_SHMFD): the new one gets the region.
	expect blk-reconnect-inflight 0 "inflight region goes to the new backend" cat "$TMP/rc1.console"
	# A request was waiting across the outage (the backend was down for 0.3 s at least).
	expect blk-reconnect-stalled 0 "" grep -Eq "longest request [0-9]{3,} ms" "$TMP/rc1.console"
	expect blk-reconnect-no-reset 1 "" grep -Eq "needing reset|NEEDS_RESET" "$TMP/rc1.console"
	expect blk-reconnect-data-on-file 1 "" cmp -s -n 8388608 "$TMP/rc1.img" /dev/zero
	expect blk-reconnect-expires 0 "did not come back within 10 s.*VM continues" \
		blk_reconnect rc2 "test=blk-backend-death" 0 cellvm-blk
	expect blk-reconnect-expires-guest-sees 0 "DEVICE_NEEDS_RESET" cat "$TMP/rc2.console"
else
	skip blk-reconnect "build/cellvm-blk is not built"
fi
if command -v qemu-storage-daemon >/dev/null; then
	expect blk-reconnect-qsd 0 "test blk-reconnect: PASS" blk_reconnect rc3 "test=blk-reconnect blk_secs=4" 1 qsd
	expect blk-reconnect-qsd-back 0 "is back after [0-9]+ ms; requests resumed" cat "$TMP/rc3.console"
else
	skip blk-reconnect-qsd "qemu-storage-daemon is not installed"
fi

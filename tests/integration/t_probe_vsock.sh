# t_probe_vsock.sh: the probe's virtio-vsock tests on cellvm with cellvm-vsock (hybrid vsock),
# socat playing the host's processes.

# The jailed cellvm-vsock (uid 65534 when started as root) connects to <socket>_<port> in $TMP.
chmod 0755 "$TMP"

# vsock_echo NAME APPEND: an echo server listens on host port 1234; the guest connects to it.
vsock_echo() {
	local sock="$TMP/$1.vsock" pid rc
	rm -f "$sock" "${sock}_1234"
	socat "UNIX-LISTEN:${sock}_1234,mode=777,fork" EXEC:cat &
	pid=$!
	for _ in $(seq 100); do [ -S "${sock}_1234" ] && break; sleep 0.05; done
	"$CELLVM" --kernel "$ELF" --memory size=64M --debug-exit --cmdline "$2 vsock_cid=3" \
		--vsock "cid=3,socket=$sock"
	rc=$?
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return $rc
}

# vsock_listen NAME: the guest listens on port 5000; socat connects with "CONNECT 5000".
vsock_listen() {
	local sock="$TMP/$1.vsock" out="$TMP/$1.console" pid rc
	rm -f "$sock"
	"$CELLVM" --kernel "$ELF" --memory size=64M --debug-exit --cmdline "test=vsock-listen vsock_cid=3" \
		--vsock "cid=3,socket=$sock" >"$out" 2>&1 &
	pid=$!
	for _ in $(seq 200); do grep -q "listening on port" "$out" && break; sleep 0.05; done
	printf 'CONNECT 5000\nping\n' | socat -t 5 - "UNIX-CONNECT:$sock" >"$TMP/$1.host"
	echo "host got: $(tr '\n' ' ' <"$TMP/$1.host")"
	wait "$pid"
	rc=$?
	cat "$out"
	grep -Eq '^OK [0-9]+$' "$TMP/$1.host" && grep -qx pong "$TMP/$1.host" || return 99
	return $rc
}
# qemu_vsock NAME APPEND: QEMU (TCG) as the frontend (vhost-user-vsock-pci), cellvm-vsock as
# the backend, the echo server on host port 1234. QEMU's debug exit status is 2 * v + 1.
qemu_vsock() {
	local sock="$TMP/$1.vsock" vhu="$TMP/$1.vhu" spid bpid rc brc
	rm -f "$sock" "${sock}_1234" "$vhu"
	socat "UNIX-LISTEN:${sock}_1234,mode=777,fork" EXEC:cat &
	spid=$!
	"$BUILD/cellvm-vsock" --socket "$vhu" --cid 3 --uds-path "$sock" &
	bpid=$!
	for _ in $(seq 100); do [ -S "$vhu" ] && [ -S "${sock}_1234" ] && break; sleep 0.05; done
	qemu-system-x86_64 -M q35 -accel tcg -nodefaults -no-user-config -nographic -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -m 128M -kernel "$ELF" -append "$2 vsock_cid=3" \
		-object memory-backend-memfd,id=mem,size=128M,share=on -numa node,memdev=mem \
		-chardev "socket,id=c0,path=$vhu" -device vhost-user-vsock-pci,chardev=c0,disable-legacy=on,vectors=4
	rc=$?
	wait "$bpid" # cellvm-vsock exits 0 when its frontend disconnects
	brc=$?
	[ "$brc" -eq 0 ] || echo "cellvm-vsock exited $brc"
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	[ "$brc" -eq 0 ] || return 99
	return $rc
}
export -f vsock_echo vsock_listen qemu_vsock

if ! [ -x "$BUILD/cellvm-vsock" ]; then
	skip cellvm-vsock "build/cellvm-vsock is not built"
elif ! command -v socat >/dev/null; then
	skip cellvm-vsock "socat is not installed (tools/deps.sh)"
else
	expect cellvm-vsock-connect 0 "test vsock-connect: PASS" vsock_echo v1 test=vsock-connect
	expect cellvm-vsock-listen 0 "test vsock-listen: PASS" vsock_listen v2
	expect cellvm-vsock-stream 0 "4194304 bytes there and back, intact" vsock_echo v3 test=vsock-stream
	expect cellvm-vsock-bad-cid 2 "cid must be 3 to 4294967294" "$CELLVM" --kernel "$ELF" --vsock cid=2,socket="$TMP/x"
	expect cellvm-vsock-needs-socket 2 "cid=N and socket=PATH \(or vhost=on\) are required" "$CELLVM" --kernel "$ELF" --vsock cid=3
	expect cellvm-vsock-bad-dir 2 "the device could not be created" \
		"$CELLVM" --kernel "$ELF" --memory size=64M --vsock cid=3,socket=/nonexistent/dir/v.sock
fi
if [ -x "$BUILD/cellvm-vsock" ] && command -v socat >/dev/null && command -v qemu-system-x86_64 >/dev/null; then
	expect qemu-frontend-cellvm-vsock-connect 1 "test vsock-connect: PASS" qemu_vsock qv1 test=vsock-connect
	expect qemu-frontend-cellvm-vsock-stream 1 "test vsock-stream: PASS" qemu_vsock qv2 "test=vsock-stream vsock_bytes=1M"
fi
# QEMU's vhost-vsock-pci (the kernel's vhost) needs /dev/vhost-vsock, which this host lacks.

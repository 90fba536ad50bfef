# t_probe_blk_cellvm.sh: the probe's virtio-blk tests on cellvm's virtio-pci, with the disk
# served by qemu-storage-daemon (a backend written by others) and by cellvm-blk.

# cellvm_qsd NAME APPEND EXPORT_OPTS DISK_OPTS: qemu-storage-daemon exports a fresh 8 MiB image.
cellvm_qsd() {
	local name=$1 app=$2 exp=$3 dopts=$4 img="$TMP/$1.img" sock="$TMP/$1.sock" pid rc
	rm -f "$img" "$sock"
	truncate -s 8M "$img" || return 99
	qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$img" \
		--export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$sock$exp" &
	pid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	"$CELLVM" --kernel "$ELF" --memory size=128M --debug-exit --cmdline "$app" \
		--disk "vhost_user=true,socket=$sock$dopts"
	rc=$?
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return $rc
}

# cellvm_blk NAME APPEND DISK_OPTS: cellvm spawns cellvm-blk on a fresh 8 MiB file.
cellvm_blk() {
	local img="$TMP/$1.img"
	rm -f "$img"
	truncate -s 8M "$img"
	"$CELLVM" --kernel "$ELF" --memory size=128M --debug-exit --cmdline "$2" --disk "path=$img$3" -v
}
cellvm_blk_missing() {
	"$CELLVM" --kernel "$ELF" --memory size=64M --debug-exit --cmdline test=hello --disk path=/nonexistent/disk.img
}
export -f cellvm_qsd cellvm_blk cellvm_blk_missing

if command -v qemu-storage-daemon >/dev/null; then
	expect cellvm-qsd-blk-rw 0 "test blk-rw: PASS" cellvm_qsd q1 "test=blk-rw blk_size=8M" ",writable=on" ""
	expect cellvm-qsd-blk-flush 0 "test blk-flush: PASS" cellvm_qsd q2 "test=blk-flush" ",writable=on" ""
	expect cellvm-qsd-blk-id 0 "test blk-id: PASS" cellvm_qsd q3 "test=blk-id" ",writable=on" ""
	expect cellvm-qsd-blk-ro 0 "test blk-ro: PASS" cellvm_qsd q4 "test=blk-ro" ",writable=off" ""
	expect cellvm-qsd-blk-mq 0 "test blk-mq: PASS" cellvm_qsd q5 "test=blk-mq blk_queues=2" ",writable=on,num-queues=2" ",num_queues=2"
else
	skip cellvm-qsd-blk "qemu-storage-daemon is not installed"
fi
expect cellvm-qsd-missing-socket 2 "cannot connect to vhost-user socket" \
	"$CELLVM" --kernel "$ELF" --memory size=64M --disk vhost_user=true,socket="$TMP/nobody.sock"
expect cellvm-disk-needs-path 2 "path=FILE is required" "$CELLVM" --kernel "$ELF" --disk readonly=on

if [ -x "$BUILD/cellvm-blk" ]; then
	expect cellvm-blk-rw 0 "test blk-rw: PASS" cellvm_blk b1 "test=blk-rw blk_size=8M" ""
	expect cellvm-blk-data-on-file 1 "" cmp -s -n 8388608 "$TMP/b1.img" /dev/zero
	expect cellvm-blk-flush 0 "test blk-flush: PASS" cellvm_blk b2 "test=blk-flush" ""
	expect cellvm-blk-id 0 "test blk-id: PASS" cellvm_blk b3 "test=blk-id blk_serial=cellvm-disk7" ",serial=cellvm-disk7"
	expect cellvm-blk-ro 0 "test blk-ro: PASS" cellvm_blk b4 "test=blk-ro" ",readonly=on"
	expect cellvm-blk-mq 0 "test blk-mq: PASS" cellvm_blk b5 "test=blk-mq blk_queues=2" ",num_queues=2"
	expect cellvm-blk-teardown 0 "no fd or thread left behind" cellvm_blk b6 "test=blk-flush" ""
	expect cellvm-blk-missing-file 2 "disk.img: open: No such file or directory" cellvm_blk_missing
else
	skip cellvm-blk "build/cellvm-blk is not built"
fi

# A device process dies: cellvm names it and why, the guest sees DEVICE_NEEDS_RESET, the VM
# runs on (the probe then passes and exits through the debug port).
backend_death() {
	local img="$TMP/death.img" out="$TMP/death.console"
	truncate -s 8M "$img"
	"$CELLVM" --kernel "$ELF" --memory size=64M --debug-exit --cmdline test=blk-backend-death \
		--disk "path=$img" -v >"$out" 2>&1 &
	local p=$!
	for _ in $(seq 600); do grep -q "waiting for it to fail" "$out" && break; sleep 0.05; done
	grep -q "waiting for it to fail" "$out" || echo "the probe never reached the wait (30 s)"
	pkill -9 -P "$p" -f cellvm-blk
	wait "$p"
	local rc=$?
	cat "$out"
	return $rc
}
export -f backend_death
if [ -x "$BUILD/cellvm-blk" ]; then
	expect cellvm-blk-backend-death 0 "killed by signal 9.*VM continues" backend_death
	expect cellvm-blk-backend-death-guest-sees 0 "DEVICE_NEEDS_RESET" cat "$TMP/death.console"
fi

# QEMU as the frontend, cellvm-blk as the backend: the same probe tests on q35 (TCG).
qemu_cellvm_blk() { # NAME APPEND BLK_OPTS DEVICE_OPTS
	local img="$TMP/$1.img" sock="$TMP/$1.sock" pid rc
	rm -f "$img" "$sock"
	truncate -s 8M "$img"
	"$BUILD/cellvm-blk" --socket "$sock" --path "$img" $3 &
	pid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	qemu-system-x86_64 -M q35 -accel tcg -nodefaults -no-user-config -nographic -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -m 128M -kernel "$ELF" -append "$2" \
		-object memory-backend-memfd,id=mem,size=128M,share=on -numa node,memdev=mem \
		-chardev "socket,id=c0,path=$sock" -device "vhost-user-blk-pci,chardev=c0,disable-legacy=on$4"
	rc=$?
	wait "$pid" # cellvm-blk exits 0 when its frontend disconnects
	local brc=$?
	[ "$brc" -eq 0 ] || echo "cellvm-blk exited $brc"
	return $rc
}
export -f qemu_cellvm_blk
if [ -x "$BUILD/cellvm-blk" ] && command -v qemu-system-x86_64 >/dev/null; then
	expect qemu-frontend-cellvm-blk-rw 1 "test blk-rw: PASS" qemu_cellvm_blk qb1 "test=blk-rw blk_size=8M" "" ""
	expect qemu-frontend-cellvm-blk-flush 1 "test blk-flush: PASS" qemu_cellvm_blk qb2 "test=blk-flush" "" ""
	expect qemu-frontend-cellvm-blk-ro 1 "test blk-ro: PASS" qemu_cellvm_blk qb3 "test=blk-ro" "--readonly" ""
	expect qemu-frontend-cellvm-blk-mq 1 "test blk-mq: PASS" qemu_cellvm_blk qb4 "test=blk-mq blk_queues=2" "--num-queues 2" ",num-queues=2"
fi

# t_probe_blk_qemu.sh: the probe's virtio-pci + virtio-blk driver against QEMU's own devices
# (q35, TCG): virtio-blk-pci, and vhost-user-blk-pci served by qemu-storage-daemon. Passing
# here makes the probe a valid driver for the same tests on cellvm. QEMU exit v -> (v<<1)|1.

# qemu_blk IMG APPEND [QEMU ARGS...]: a fresh 8 MiB raw disk at IMG, then the probe on q35.
qemu_blk() {
	local img=$1 app=$2
	shift 2
	rm -f "$img"
	qemu-img create -f raw "$img" 8M >/dev/null || return 99
	qemu-system-x86_64 -M q35 -accel tcg -nodefaults -no-user-config -nographic -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -m 128M -kernel "$ELF" -append "$app" "$@"
}

# qemu_vub NAME APPEND EXPORT_OPTS DEVICE_OPTS: qemu-storage-daemon exports an 8 MiB image as
# vhost-user-blk; QEMU (shared memfd RAM) drives it with vhost-user-blk-pci.
qemu_vub() {
	local name=$1 app=$2 exp=$3 dev=$4 img="$TMP/$1.img" sock="$TMP/$1.sock" pid rc i
	rm -f "$img" "$sock"
	qemu-img create -f raw "$img" 8M >/dev/null || return 99
	qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$img" \
		--export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$sock$exp" &
	pid=$!
	for i in $(seq 100); do
		[ -S "$sock" ] && break
		sleep 0.05
	done
	qemu-system-x86_64 -M q35 -accel tcg -nodefaults -no-user-config -nographic -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -m 128M -kernel "$ELF" -append "$app" \
		-object memory-backend-memfd,id=mem,size=128M,share=on -numa node,memdev=mem \
		-chardev "socket,id=c0,path=$sock" -device "vhost-user-blk-pci,chardev=c0,disable-legacy=on$dev"
	rc=$?
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return $rc
}
export -f qemu_blk qemu_vub

if ! command -v qemu-system-x86_64 >/dev/null || ! command -v qemu-img >/dev/null; then
	skip qemu-probe-blk "qemu-system-x86_64 or qemu-img is not installed"
else
	BLKDRV="if=none,id=d0,format=raw"
	expect qemu-blk-rw 1 "test blk-rw: PASS" qemu_blk "$TMP/qb-rw.img" "test=blk-rw blk_size=8M" \
		-drive "$BLKDRV,file=$TMP/qb-rw.img" -device virtio-blk-pci,drive=d0,disable-legacy=on
	expect qemu-blk-rw-probe-bars 1 "BAR4: mem64 0xc0[0-9a-f]+ size .*assigned by the probe" qemu_blk "$TMP/qb-as.img" \
		"test=blk-rw blk_size=8M pci_assign=all" \
		-drive "$BLKDRV,file=$TMP/qb-as.img" -device virtio-blk-pci,drive=d0,disable-legacy=on
	expect qemu-blk-flush 1 "test blk-flush: PASS" qemu_blk "$TMP/qb-fl.img" "test=blk-flush" \
		-drive "$BLKDRV,file=$TMP/qb-fl.img" -device virtio-blk-pci,drive=d0,disable-legacy=on
	expect qemu-blk-flush-not-offered 3 "FAIL: VIRTIO_BLK_F_FLUSH not offered" qemu_blk "$TMP/qb-nf.img" \
		"test=blk-flush" -drive "$BLKDRV,file=$TMP/qb-nf.img,cache=writethrough" \
		-device virtio-blk-pci,drive=d0,disable-legacy=on,config-wce=off
	expect qemu-blk-id 1 "serial 'probe-serial-1'" qemu_blk "$TMP/qb-id.img" "test=blk-id blk_serial=probe-serial-1" \
		-drive "$BLKDRV,file=$TMP/qb-id.img" -device virtio-blk-pci,drive=d0,disable-legacy=on,serial=probe-serial-1
	expect qemu-blk-ro 1 "test blk-ro: PASS" qemu_blk "$TMP/qb-ro.img" "test=blk-ro" \
		-drive "$BLKDRV,file=$TMP/qb-ro.img,readonly=on" -device virtio-blk-pci,drive=d0,disable-legacy=on
	expect qemu-blk-ro-on-rw-disk 3 "FAIL: VIRTIO_BLK_F_RO not offered" qemu_blk "$TMP/qb-rw2.img" "test=blk-ro" \
		-drive "$BLKDRV,file=$TMP/qb-rw2.img" -device virtio-blk-pci,drive=d0,disable-legacy=on
	expect qemu-blk-mq 1 "test blk-mq: PASS" qemu_blk "$TMP/qb-mq.img" "test=blk-mq blk_queues=2" \
		-drive "$BLKDRV,file=$TMP/qb-mq.img" -device virtio-blk-pci,drive=d0,disable-legacy=on,num-queues=2
	expect qemu-blk-legacy-only 3 "lacks modern capabilities" qemu_blk "$TMP/qb-lg.img" "test=blk-rw" \
		-drive "$BLKDRV,file=$TMP/qb-lg.img" -device virtio-blk-pci,drive=d0,disable-modern=on
	if command -v qemu-storage-daemon >/dev/null; then
		expect qemu-vub-blk-rw 1 "test blk-rw: PASS" qemu_vub vub-rw "test=blk-rw blk_size=8M" ",writable=on" ""
		expect qemu-vub-blk-flush 1 "test blk-flush: PASS" qemu_vub vub-fl "test=blk-flush" ",writable=on" ""
		expect qemu-vub-blk-id 1 "test blk-id: PASS" qemu_vub vub-id "test=blk-id blk_serial=vhost_user_blk" ",writable=on" ""
		expect qemu-vub-blk-ro 1 "test blk-ro: PASS" qemu_vub vub-ro "test=blk-ro" ",writable=off" ""
		expect qemu-vub-blk-mq 1 "test blk-mq: PASS" qemu_vub vub-mq "test=blk-mq blk_queues=2" \
			",writable=on,num-queues=2" ",num-queues=2"
	else
		skip qemu-vub-blk "qemu-storage-daemon is not installed"
	fi
fi

# l1-tests.sh: the L2 cases one L1 boot runs (sourced by l1-init); see l2case there and docs/testing.md.

# --- blk: a virtio-blk disk (cellvm --disk, served by cellvm-blk) on an image in L1's /tmp --------
# The minimal kernel has no ext4 (guest/linux/config-fragment), so it gets a raw image; the cloud
# kernel an ext4 one. Both carry seed data L2 must read back; after cellvm exits L1 checks what L2
# wrote (its checksums come from the L2 console's "L2-BLK:" lines) or that a read-only image is unchanged.
BLK_RAW_MIB=40 BLK_EXT4_MIB=48
# blk_mk raw|ext4 IMG: a fresh image, its seed data and IMG.sum (the image's sha256).
# raw: zeros; sector 0 "LABDISK1 <sha256 of the MiB at 4 MiB>", random data in the MiB at 4 MiB.
# ext4: /seed.bin (1 MiB random) and /seed.sha256 (its sha256), made with mke2fs -d (e2fsprogs in /lab:
# busybox has an ext2-only mke2fs in /bin).
blk_mk() {
	rm -rf "$2" "$2.d" "$2.seed"
	dd if=/dev/urandom of="$2.seed" bs=1M count=1 2>/dev/null || return 1
	if [ "$1" = raw ]; then
		dd if=/dev/zero of="$2" bs=1M count=$BLK_RAW_MIB 2>/dev/null &&
			dd if="$2.seed" of="$2" bs=1M seek=4 conv=notrunc 2>/dev/null &&
			printf 'LABDISK1 %s\n' "$(sha256sum <"$2.seed" | cut -d' ' -f1)" | dd of="$2" conv=notrunc 2>/dev/null || return 1
	else
		mkdir "$2.d" && cp "$2.seed" "$2.d/seed.bin" && sha256sum <"$2.seed" | cut -d' ' -f1 >"$2.d/seed.sha256" &&
			/lab/mke2fs -q -F -t ext4 -L labdisk -d "$2.d" "$2" ${BLK_EXT4_MIB}M || return 1
	fi
	sha256sum <"$2" | cut -d' ' -f1 >"$2.sum"
	echo "made $1 image $2: $(stat -c %s "$2") bytes, sha256 $(cat "$2.sum")"
}
# blk_want WHAT GOT WANT: prints the comparison; fails on a mismatch.
blk_want() {
	if [ "$2" = "$3" ]; then echo "ok: $1 = $2"; else echo "MISMATCH: $1 = '$2', expected '$3'"; return 1; fi
}
# blk_l2sum KEY: the sha256 L2 printed as "L2-BLK: KEY sha256 <hex>" on the console ($out.con).
blk_l2sum() { sed -n "s/^L2-BLK: $1 sha256 \([0-9a-f]*\).*/\1/p" "$out.con" | tail -1; }
# blk_check raw|ext4 IMG: what the blk case wrote is on the image, and the seed data is intact.
blk_check() {
	local img=$2 bad=0 sect seedsum
	seedsum=$(sha256sum <"$img.seed" | cut -d' ' -f1)
	if [ "$1" = raw ]; then
		sect=$(($(stat -c %s "$img") / 512))
		blk_want "sector 0" "$(dd if="$img" bs=512 count=1 2>/dev/null | head -1)" "LABDISK1 $seedsum" || bad=1
		blk_want "seed MiB at 4 MiB" "$(dd if="$img" bs=1M skip=4 count=1 2>/dev/null | sha256sum | cut -d' ' -f1)" "$seedsum" || bad=1
		blk_want "2 MiB L2 wrote at 8 MiB" "$(dd if="$img" bs=1M skip=8 count=2 2>/dev/null | sha256sum | cut -d' ' -f1)" \
			"$(blk_l2sum raw)" || bad=1
		blk_want "last sector" "$(dd if="$img" bs=512 skip=$((sect - 1)) count=1 2>/dev/null | head -1)" "LABLAST $sect" || bad=1
	else
		/lab/e2fsck -fn "$img" >"$img.fsck" 2>&1 || { bad=1; echo "e2fsck -fn $img failed:"; cat "$img.fsck"; }
		dbg() { /lab/debugfs -R "cat $1" "$img" 2>/dev/null; }
		blk_want /seed.bin "$(dbg /seed.bin | sha256sum | cut -d' ' -f1)" "$seedsum" || bad=1
		blk_want /lab/hello.txt "$(dbg /lab/hello.txt)" "hello from L2 through cellvm-blk" || bad=1
		blk_want /lab/dir/seq.txt "$(dbg /lab/dir/seq.txt | sha256sum | cut -d' ' -f1)" \
			"$(seq 1 20000 | sha256sum | cut -d' ' -f1)" || bad=1
		blk_want "/lab/data.bin (sha256 L2 printed)" "$(dbg /lab/data.bin | sha256sum | cut -d' ' -f1)" "$(blk_l2sum data.bin)" || bad=1
		blk_want "/lab/data.bin (sha256 in /lab/data.sha256)" "$(dbg /lab/data.bin | sha256sum | cut -d' ' -f1)" \
			"$(dbg /lab/data.sha256)" || bad=1
	fi
	[ "$bad" = 0 ]
}
# blk_same IMG: the image is byte for byte what blk_mk made.
blk_same() { blk_want "sha256 of $1" "$(sha256sum <"$1" | cut -d' ' -f1)" "$(cat "$1.sum")"; }

# wait_con PATTERN [S]: waits (up to S s, 60) for a console line of the running case ($out.con) matching PATTERN.
wait_con() {
	local i=0
	while ! grep -q -- "$1" "$out.con" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -lt $((${2:-60} * 10)) ] || { echo "wait_con: no /$1/ on the console"; return 1; }
		sleep 0.1
	done
}

for k in tiny cloud; do
	l2case "$k/boot" "$k" 0 "lab.test=boot lab.cpus=2 lab.mem=256" \
		'^L2-INIT: uptime' '^L2-RESULT: boot PASS'
	l2case "$k/poweroff" "$k" 0 "lab.test=poweroff" '^L2-RESULT: poweroff PASS' 'log:guest powered off \(ACPI S5, PM1 control\)'
	l2case "$k/reboot" "$k" 5 "lab.test=reboot" '^L2-RESULT: reboot PASS' 'log:guest requested a reboot'
	# vm.power-button: L1 presses the button through the API once L2 has enabled the event.
	l2case "$k/power-button" "$k" 0 "lab.test=power-button" "vmm:--api-socket /tmp/${k}_pb.sock" \
		"bg:wait_con '^L2-POWERBUTTON: ready' && cellvm-remote --api-socket /tmp/${k}_pb.sock power-button" \
		'^L2-RESULT: power-button PASS' 'log:guest powered off \(ACPI S5, PM1 control\)'
	# vm.resize: one vCPU of two at boot; L1 adds the second, L2 onlines it, then L1 takes it back.
	api="cellvm-remote --api-socket /tmp/${k}_cpu.sock"
	l2case "$k/cpu-hotplug" "$k" 0 "lab.test=cpu-hotplug" "vmm:--api-socket /tmp/${k}_cpu.sock --cpus boot=1,max=2" \
		"bg:wait_con '^L2-CPUHP: ready for 2' && $api resize cpus=2 && wait_con '^L2-CPUHP: .*ready for 1' && $api resize cpus=1" \
		'^L2-RESULT: cpu-hotplug PASS' 'log:the guest ejected CPU 1'
	l2case "$k/panic" "$k" 5 "rdinit=/nonexistent init=/nonexistent" 'Kernel panic'
	fs=ext4 mib=$BLK_EXT4_MIB
	[ "$k" = cloud ] || fs=raw mib=$BLK_RAW_MIB
	l2case "$k/blk" "$k" 0 "lab.test=blk lab.blk=$fs lab.sectors=$((mib * 2048)) lab.serial=labdisk1 lab.queues=2" \
		"pre:blk_mk $fs /tmp/${k}_blk.img" "vmm:--disk path=/tmp/${k}_blk.img,serial=labdisk1,num_queues=2" \
		'^L2-RESULT: blk PASS' "post:blk_check $fs /tmp/${k}_blk.img"
	l2case "$k/blk-ro" "$k" 0 "lab.test=blk-ro lab.blk=$fs lab.sectors=$((mib * 2048)) lab.serial=labdisk2" \
		"pre:blk_mk $fs /tmp/${k}_blk-ro.img" "vmm:--disk path=/tmp/${k}_blk-ro.img,readonly=on,serial=labdisk2" \
		'^L2-RESULT: blk-ro PASS' "post:blk_same /tmp/${k}_blk-ro.img"
	# vm.add-disk on the running VM, blk.sh's checks on it, then vm.remove-device (ACPI PCI hotplug).
	api="cellvm-remote --api-socket /tmp/${k}_hp.sock"
	l2case "$k/hotplug" "$k" 0 "lab.test=hotplug lab.blk=$fs lab.sectors=$((mib * 2048)) lab.serial=labhot1" \
		"pre:blk_mk $fs /tmp/${k}_hot.img" "vmm:--api-socket /tmp/${k}_hp.sock --jail on,hotplug-dir=/tmp" \
		"bg:wait_con '^L2-HOTPLUG: ready for add-disk' && $api add-disk path=/tmp/${k}_hot.img,serial=labhot1,id=hot1 &&
			wait_con '^L2-HOTPLUG: ready for remove-device' && $api remove-device hot1" \
		'^L2-RESULT: hotplug PASS' 'log:the guest ejected PCI slot' "post:blk_check $fs /tmp/${k}_hot.img"
done

# --- net and vsock: streams between L1 and L2 with 1 MiB each way, checksummed (tests/lab/labsock.c) ---------
# The minimal kernel has virtio-net, vsock and IPv4 built in (guest/linux/config-fragment); the cloud kernel
# runs the cellvm-net and cellvm-vsock cases too.
# xfer_bg NAME ARGS...: labsock ARGS in the background, 1 MiB of random data ($out.NAME.tx) on its stdin,
# what it receives in $out.NAME.rx, its status in $out.NAME.rc. A leftover from a failed attempt is stopped.
xfer_bg() {
	local n=$1
	shift
	[ ! -s "$out.$n.pid" ] || kill "$(cat "$out.$n.pid")" 2>/dev/null
	rm -f "$out.$n.rc" "$out.$n.pid" "$out.$n.rx"
	dd if=/dev/urandom of="$out.$n.tx" bs=1M count=1 2>/dev/null || return 1
	(/lab/labsock -t 100 "$@" <"$out.$n.tx" >"$out.$n.rx" 2>"$out.$n.err" & echo $! >"$out.$n.pid"
	 wait $!; echo $? >"$out.$n.rc") </dev/null >/dev/null 2>&1 &
	echo "started labsock $* (1 MiB out, sha256 $(sha256sum <"$out.$n.tx" | cut -d' ' -f1))"
}
# xfer_check NAME KEY: the background labsock ended with status 0, and L2's "L2-XFER: KEY sent S received R" line
# matches what L1 received (S) and sent (R).
xfer_check() {
	local n=$1 key=$2 i=0 line
	while [ ! -s "$out.$n.rc" ] && [ $i -lt 25 ]; do sleep 0.2; i=$((i + 1)); done
	[ -s "$out.$n.rc" ] || { kill "$(cat "$out.$n.pid")" 2>/dev/null; echo "labsock $n still running: stopped"; }
	cat "$out.$n.err"
	blk_want "L1's labsock ($n) status" "$(cat "$out.$n.rc" 2>/dev/null)" 0 || return 1
	line=$(grep -a "^L2-XFER: $key " "$out.con" | tail -1 | tr -d '\r')
	set -- $line
	blk_want "$key: sha256 of what L2 sent, as L1 received it" "$(sha256sum <"$out.$n.rx" | cut -d' ' -f1)" "$4" &&
		blk_want "$key: sha256 of what L1 sent, as L2 received it" "$(sha256sum <"$out.$n.tx" | cut -d' ' -f1)" "$6"
}
# net_tap NAME [NET [mq]]: a persistent tap with NET.1/24 (default 10.0.0), up (kept for the next case);
# mq: multi-queue, for several pairs.
net_tap() {
	local net=${2:-10.0.0}
	/lab/labsock mktap "$1" $3 || return 1
	ip addr show dev "$1" | grep -q "inet $net.1/24" || ip addr add "$net.1/24" dev "$1" || return 1
	ip link set "$1" up
}
# net: cellvm-net, then the kernel's vhost-net (vhost=on: no cellvm-net process).
for v in "" -vhost; do
	by="served by cellvm-net"
	[ -z "$v" ] || by="served by the kernel.s vhost-net"
	l2case "tiny/net$v" tiny 0 "lab.test=net lab.port=5001" "pre:net_tap labtap0" "pre:xfer_bg tcp tcp-listen:5001" \
		"vmm:--net tap=labtap0${v:+,vhost=on}" '^L2-RESULT: net PASS' "post:xfer_check tcp tcp" "log:$by"
done
# Two pairs on the kernel's vhost-net (one vhost fd per pair): Linux with 2 vCPUs asks for both
# (VQ_PAIRS_SET on the VMM's control queue attaches pair 1's tap queue); the tap steers flows.
l2case tiny/net-vhost-mq tiny 0 "lab.test=net lab.port=5011 lab.net=10.0.1 lab.pairs=2" \
	"pre:net_tap labtap1 10.0.1 mq" "pre:xfer_bg tcp tcp-listen:5011" "vmm:--net tap=labtap1,num_queues=4,vhost=on" \
	'^L2-RESULT: net PASS' "post:xfer_check tcp tcp" 'log:served by the kernel.s vhost-net, 2 queue pair'

# vsock: hybrid (cellvm-vsock: L1 sends "CONNECT 5002" to the socket; L2 reaches host port 5003 at PATH_5003),
# then the kernel's vhost-vsock (L1 uses AF_VSOCK: cid 3 port 5002; L2 reaches cid 2 port 5003).
VS=/tmp/tiny_vsock.sock
l2case tiny/vsock tiny 0 "lab.test=vsock lab.lport=5002 lab.hport=5003" \
	"pre:xfer_bg in -r 60 hybrid:$VS:5002" "pre:xfer_bg out unix-listen:${VS}_5003" "vmm:--vsock cid=3,socket=$VS" \
	'^L2-RESULT: vsock PASS' "post:xfer_check in in" "post:xfer_check out out" 'log:served by cellvm-vsock'
l2case tiny/vsock-vhost tiny 0 "lab.test=vsock lab.lport=5002 lab.hport=5003" \
	"pre:xfer_bg in -r 60 vsock:3:5002" "pre:xfer_bg out vsock-listen:5003" "vmm:--vsock cid=3,vhost=on" \
	'^L2-RESULT: vsock PASS' "post:xfer_check in in" "post:xfer_check out out" 'log:served by the kernel.s vhost-vsock'
# The distribution kernel: its virtio_net and vsock transport are modules the L2 init loads.
l2case cloud/net cloud 0 "lab.test=net lab.port=5021" "pre:net_tap labtap0" "pre:xfer_bg tcp tcp-listen:5021" \
	"vmm:--net tap=labtap0" '^L2-RESULT: net PASS' "post:xfer_check tcp tcp" "log:served by cellvm-net"
VS=/tmp/cloud_vsock.sock
l2case cloud/vsock cloud 0 "lab.test=vsock lab.lport=5002 lab.hport=5003" \
	"pre:xfer_bg in -r 60 hybrid:$VS:5002" "pre:xfer_bg out unix-listen:${VS}_5003" "vmm:--vsock cid=3,socket=$VS" \
	'^L2-RESULT: vsock PASS' "post:xfer_check in in" "post:xfer_check out out" 'log:served by cellvm-vsock'

# --- the lab itself: an assignable device behind an IOMMU (for the VFIO cases to come) ---------
# With LAB_VFIO=1 the runner starts L1 with -device intel-iommu -device e1000e and intel_iommu=on;
# l1-init binds the NIC to vfio-pci. Without it this check is skipped, visibly.
if [ "$(arg lab.vfio)" != 1 ]; then
	if selected lab/vfio-assignable; then
		SKIP=$((SKIP + 1))
		echo "LAB: SKIP lab/vfio-assignable: L1 has no IOMMU in this run (LAB_VFIO=1 tests/lab/run lab/vfio-assignable)"
	fi
else
	l1check lab/vfio-assignable '[ -n "$VFIO_GROUP" ] && [ -c "/dev/vfio/$VFIO_GROUP" ] && [ -c /dev/vfio/vfio ] && echo "group $VFIO_GROUP: $VFIO_BDF"'
fi

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

for k in tiny cloud; do
	l2case "$k/boot" "$k" 0 "lab.test=boot lab.cpus=2 lab.mem=256" \
		'^L2-INIT: uptime' '^L2-RESULT: boot PASS'
	l2case "$k/poweroff" "$k" 0 "lab.test=poweroff" '^L2-RESULT: poweroff PASS'
	l2case "$k/reboot" "$k" 5 "lab.test=reboot" '^L2-RESULT: reboot PASS' 'log:guest requested a reboot'
	l2case "$k/panic" "$k" 5 "rdinit=/nonexistent init=/nonexistent" 'Kernel panic'
	fs=ext4 mib=$BLK_EXT4_MIB
	[ "$k" = cloud ] || fs=raw mib=$BLK_RAW_MIB
	l2case "$k/blk" "$k" 0 "lab.test=blk lab.blk=$fs lab.sectors=$((mib * 2048)) lab.serial=labdisk1 lab.queues=2" \
		"pre:blk_mk $fs /tmp/${k}_blk.img" "vmm:--disk path=/tmp/${k}_blk.img,serial=labdisk1,num_queues=2" \
		'^L2-RESULT: blk PASS' "post:blk_check $fs /tmp/${k}_blk.img"
	l2case "$k/blk-ro" "$k" 0 "lab.test=blk-ro lab.blk=$fs lab.sectors=$((mib * 2048)) lab.serial=labdisk2" \
		"pre:blk_mk $fs /tmp/${k}_blk-ro.img" "vmm:--disk path=/tmp/${k}_blk-ro.img,readonly=on,serial=labdisk2" \
		'^L2-RESULT: blk-ro PASS' "post:blk_same /tmp/${k}_blk-ro.img"
done

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

# blk.sh: L2 test (blk, and blk-ro through blk-ro.sh): the virtio-blk disk /dev/vda that cellvm-blk serves.
# lab.blk=raw|ext4 (the minimal kernel has no ext4), lab.sectors (the size L1 made), lab.serial, lab.queues.
# Both: size, serial and the number of queues in /sys/block/vda, the seed data L1 put on the image reads back.
# blk, raw: writes 2 MiB at 8 MiB (O_DIRECT, fsync) and "LABLAST <sectors>" in the last sector.
# blk, ext4: mounts, writes files and 4 MiB of random data, syncs, unmounts, reads them back.
#   L1 checks the image afterwards against the "L2-BLK: KEY sha256 HEX" lines printed here.
# blk-ro: /sys/block/vda/ro is 1; writes to the device are refused (also after blockdev --setrw);
#   ext4: mount -o rw fails or falls back to read-only, a file cannot be created. L1 checks the image is unchanged.
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
T=${LAB_TEST:-blk} MODE=$(arg lab.blk) SECTORS=$(arg lab.sectors) SERIAL=$(arg lab.serial) QUEUES=$(arg lab.queues)
RO=0
[ "$T" != blk-ro ] || RO=1
fail() { echo "L2-RESULT: $T FAIL $*"; exit 1; }
sum() { sha256sum | cut -d' ' -f1; }
# The device is probed when virtio_blk loads (cloud) or at boot (minimal kernel); give it a moment.
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
[ -b /dev/vda ] || fail "no /dev/vda (block devices: $(ls /sys/block | tr '\n' ' '); insmod failures:${LAB_MODFAIL:- none})"
size=$(cat /sys/block/vda/size) serial=$(cat /sys/block/vda/serial 2>&1) ro=$(cat /sys/block/vda/ro)
queues=$(ls /sys/block/vda/mq 2>/dev/null | wc -l)
echo "L2-BLK: vda size $size sectors, serial '$serial', ro $ro, queues $queues"
[ "$queues" = "${QUEUES:-1}" ] || fail "/sys/block/vda/mq has $queues queues, expected ${QUEUES:-1}"
[ "$size" = "$SECTORS" ] || fail "/sys/block/vda/size is $size, expected $SECTORS"
[ "$serial" = "$SERIAL" ] || fail "/sys/block/vda/serial is '$serial', expected '$SERIAL'"
[ "$ro" = "$RO" ] || fail "/sys/block/vda/ro is $ro, expected $RO"

# raw_refused: every way of writing the device fails.
raw_refused() {
	dd if=/dev/zero of=/dev/vda bs=512 count=1 seek=16 conv=fsync 2>/tmp/dd.err &&
		fail "dd to the read-only /dev/vda succeeded"
	echo "L2-BLK: dd to /dev/vda refused: $(grep -v records /tmp/dd.err | head -1)"
	dd if=/dev/zero of=/dev/vda bs=4096 count=1 seek=4 oflag=direct 2>/tmp/dd.err &&
		fail "dd oflag=direct to the read-only /dev/vda succeeded"
	echo "L2-BLK: dd oflag=direct to /dev/vda refused: $(grep -v records /tmp/dd.err | head -1)"
	# Root may clear the block device's own ro flag; the disk stays read-only (and the backend refuses writes).
	blockdev --setrw /dev/vda 2>/dev/null
	dd if=/dev/zero of=/dev/vda bs=4096 count=1 seek=4 oflag=direct 2>/tmp/dd.err &&
		fail "dd oflag=direct to /dev/vda after blockdev --setrw succeeded"
	echo "L2-BLK: after blockdev --setrw, dd oflag=direct refused: $(grep -v records /tmp/dd.err | head -1)"
}

if [ "$MODE" = raw ]; then
	hdr=$(dd if=/dev/vda bs=512 count=1 iflag=direct 2>/dev/null | head -1)
	seed=$(dd if=/dev/vda bs=1M skip=4 count=1 iflag=direct 2>/dev/null | sum)
	[ "$hdr" = "LABDISK1 $seed" ] || fail "sector 0 reads '$hdr', the seed MiB at 4 MiB has sha256 $seed"
	if [ "$RO" = 1 ]; then
		raw_refused
		echo "L2-RESULT: $T PASS raw, seed reads back, writes refused"
		exit 0
	fi
	dd if=/dev/urandom of=/tmp/w bs=1M count=2 2>/dev/null
	w=$(sum </tmp/w)
	dd if=/tmp/w of=/dev/vda bs=1M seek=8 oflag=direct conv=fsync 2>/tmp/dd.err || fail "dd to /dev/vda: $(cat /tmp/dd.err)"
	echo "L2-BLK: raw sha256 $w (2 MiB at 8 MiB)"
	r=$(dd if=/dev/vda bs=1M skip=8 count=2 iflag=direct 2>/dev/null | sum)
	[ "$r" = "$w" ] || fail "the 2 MiB at 8 MiB read back with sha256 $r, wrote $w"
	printf 'LABLAST %s\n' "$size" | dd of=/dev/vda bs=512 seek=$((size - 1)) count=1 conv=sync,fsync 2>/tmp/dd.err ||
		fail "writing the last sector: $(cat /tmp/dd.err)"
	blockdev --flushbufs /dev/vda 2>/dev/null
	last=$(dd if=/dev/vda bs=512 skip=$((size - 1)) count=1 iflag=direct 2>/dev/null | head -1)
	[ "$last" = "LABLAST $size" ] || fail "the last sector reads back '$last'"
	echo "L2-RESULT: $T PASS raw, seed reads back, 2 MiB and the last sector written and read back"
	exit 0
fi

grep -qw ext4 /proc/filesystems || fail "no ext4 in /proc/filesystems: $(tr '\n\t' '  ' </proc/filesystems)"
mkdir -p /mnt
if [ "$RO" = 1 ]; then
	raw_refused
	if mount -t ext4 -o rw /dev/vda /mnt 2>/tmp/mount.err; then
		echo "L2-BLK: mount -o rw: $(cat /tmp/mount.err) -> $(grep ' /mnt ' /proc/mounts)"
	else
		echo "L2-BLK: mount -o rw refused: $(cat /tmp/mount.err)"
		mount -t ext4 -o ro /dev/vda /mnt 2>/tmp/mount.err || fail "mount -o ro /dev/vda: $(cat /tmp/mount.err)"
	fi
	opts=$(awk '$2 == "/mnt" { print $4 }' /proc/mounts)
	case ,$opts, in *,ro,*) ;; *) fail "/dev/vda is mounted with '$opts', not read-only" ;; esac
	touch /mnt/new 2>/tmp/w.err && fail "created /mnt/new on the read-only disk"
	echo "L2-BLK: creating a file refused: $(cat /tmp/w.err)"
	[ "$(sum </mnt/seed.bin)" = "$(cat /mnt/seed.sha256)" ] || fail "/seed.bin does not match /seed.sha256"
	umount /mnt || fail "umount /mnt"
	echo "L2-RESULT: $T PASS ext4, mounted $opts, seed reads back, writes refused"
	exit 0
fi
mount -t ext4 /dev/vda /mnt 2>/tmp/mount.err || fail "mount /dev/vda: $(cat /tmp/mount.err)"
[ "$(sum </mnt/seed.bin)" = "$(cat /mnt/seed.sha256)" ] || fail "/seed.bin does not match /seed.sha256"
mkdir -p /mnt/lab/dir || fail "mkdir /mnt/lab/dir"
echo "hello from L2 through cellvm-blk" >/mnt/lab/hello.txt
seq 1 20000 >/mnt/lab/dir/seq.txt
dd if=/dev/urandom of=/mnt/lab/data.bin bs=1M count=4 2>/dev/null || fail "writing /mnt/lab/data.bin"
d=$(sum </mnt/lab/data.bin)
echo "$d" >/mnt/lab/data.sha256
echo "L2-BLK: data.bin sha256 $d (4 MiB)"
sync
umount /mnt || fail "umount /mnt"
# Read it back from the device, not the page cache.
blockdev --flushbufs /dev/vda 2>/dev/null
mount -t ext4 -o ro /dev/vda /mnt 2>/tmp/mount.err || fail "mount -o ro /dev/vda again: $(cat /tmp/mount.err)"
r=$(sum </mnt/lab/data.bin) h=$(cat /mnt/lab/hello.txt)
umount /mnt
[ "$r" = "$d" ] || fail "/lab/data.bin reads back with sha256 $r, wrote $d"
[ "$h" = "hello from L2 through cellvm-blk" ] || fail "/lab/hello.txt reads back '$h'"
echo "L2-RESULT: $T PASS ext4, seed reads back, files written, synced, unmounted and read back"

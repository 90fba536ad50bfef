# t_hotplug.sh: a disk added to a running VM through the API (cellvm-remote add-disk): the probe finds it by rescanning bus 0 and writes and verifies it.
REMOTE=$BUILD/cellvm-remote
export REMOTE

# hotplug_blk: the probe boots without a disk and waits; a path outside --jail hotplug-dir= is
# refused, the disk under it is added; the probe writes and verifies all of it, then the disk
# is removed (--hotplug-surprise: the probe has no ACPI) and its slot must read empty again.
hotplug_blk() {
	local d=$TMP/hp s=$TMP/hp/api.sock serial=$TMP/hp/serial.txt p rc
	rm -rf "$d" && mkdir -p "$d" && truncate -s 8M "$d/disk.img" || return 99
	"$CELLVM" --api-socket "$s" --kernel "$ELF" --cmdline "test=hotplug-blk blk_size=8M" \
		--memory size=128M --debug-exit --serial "file=$serial" --jail "on,hotplug-dir=$d" --hotplug-surprise -v &
	p=$!
	for _ in $(seq 200); do grep -q "waiting for a virtio-blk" "$serial" 2>/dev/null && break; sleep 0.05; done
	"$REMOTE" --api-socket "$s" add-disk path=/etc/passwd
	echo "outside hotplug-dir: exit $?"
	"$REMOTE" --api-socket "$s" add-disk "path=$d/disk.img,id=hot0"
	for _ in $(seq 400); do grep -q "to go" "$serial" 2>/dev/null && break; sleep 0.05; done
	"$REMOTE" --api-socket "$s" info | grep -q '"id":"hot0"' && echo "info lists hot0"
	"$REMOTE" --api-socket "$s" remove-device hot0 && echo "remove-device: exit 0"
	"$REMOTE" --api-socket "$s" info | grep -q '"id":"hot0"' || echo "info no longer lists hot0"
	wait $p
	rc=$?
	cat "$serial"
	return $rc
}

# hotplug_off: --jail hotplug=off keeps the broker sealed: the add is refused, naming that.
hotplug_off() {
	local s=$TMP/hpoff.sock p rc
	truncate -s 1M "$TMP/hpoff.img"
	"$CELLVM" --api-socket "$s" --kernel "$ELF" --cmdline test=idle --memory size=64M --serial off \
		--jail on,hotplug=off &
	p=$!
	for _ in $(seq 100); do [ -S "$s" ] && break; sleep 0.05; done
	"$REMOTE" --api-socket "$s" add-disk "path=$TMP/hpoff.img"
	rc=$?
	"$REMOTE" --api-socket "$s" shutdown-vmm >/dev/null
	wait $p
	return $rc
}
export -f hotplug_blk hotplug_off

if [ -x "$BUILD/cellvm-blk" ] && [ -x "$REMOTE" ]; then
	expect hotplug-blk 0 "test hotplug-blk: PASS" hotplug_blk
	expect hotplug-blk-outside-dir 0 "outside hotplug-dir: exit 1" grep -h "outside hotplug-dir" "$TMP/hotplug-blk.out"
	expect hotplug-blk-outside-dir-why 0 "may only use paths under --jail hotplug-dir" cat "$TMP/hotplug-blk.out"
	expect hotplug-blk-bdf 0 '"id":"hot0","bdf":"0000:00:0[1-9a-f].0"' cat "$TMP/hotplug-blk.out"
	expect hotplug-blk-data-on-file 1 "" cmp -s -n 8388608 "$TMP/hp/disk.img" /dev/zero
	expect hotplug-blk-info 0 "info lists hot0" cat "$TMP/hotplug-blk.out"
	expect hotplug-blk-removed 0 "info no longer lists hot0" cat "$TMP/hotplug-blk.out"
	expect hotplug-blk-slot-empty 0 "slot [0-9]+ is empty again" cat "$TMP/hotplug-blk.out"
	expect hotplug-off 1 "device hotplug is off" hotplug_off
else
	skip hotplug-blk "build/cellvm-blk or build/cellvm-remote is not built"
fi

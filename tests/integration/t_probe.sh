# t_probe.sh: the probe guest's tests under cellvm, with the PVH ELF and with the bzImage.
run_probe() { "$CELLVM" --memory size="${MEM:-64M}" --debug-exit --serial stdio "$@"; }
export -f run_probe

expect probe-hello-pvh 0 "Hello from the cellvm probe guest" run_probe --kernel "$ELF" --cmdline "test=hello"
expect probe-hello-bzimage 0 "Hello from the cellvm probe guest" run_probe --kernel "$BZ" --cmdline "test=hello"
expect probe-smp-1 0 "test smp: PASS" run_probe --kernel "$ELF" --cpus boot=1 --cmdline "test=smp cpus=1"
expect probe-smp-2 0 "test smp: PASS" run_probe --kernel "$ELF" --cpus boot=2 --cmdline "test=smp cpus=2"
expect probe-smp-4 0 "test smp: PASS" run_probe --kernel "$ELF" --cpus boot=4 --cmdline "test=smp cpus=4"
expect probe-smp-48-acpi-only 0 "test smp: PASS" run_probe --kernel "$ELF" --cpus boot=48 --cmdline "test=smp cpus=48"
expect probe-smp-vmlinux 0 "boot linux64" run_probe --kernel "$BUILD/guest/probe-vmlinux.elf" --cpus boot=2 --cmdline "test=smp cpus=2"
expect probe-smp-bzimage 0 "test smp: PASS" run_probe --kernel "$BZ" --cpus boot=2 --cmdline "test=smp cpus=2"
expect probe-memory-64M 0 "test memory: PASS" run_probe --kernel "$ELF" --cmdline "test=memory expect_mem=64M"
MEM=512M expect probe-memory-512M 0 "test memory: PASS" run_probe --kernel "$ELF" --cmdline "test=memory expect_mem=512M"
MEM=4608M expect probe-memory-above-4G 0 "test memory: PASS" run_probe --kernel "$ELF" --cmdline "test=memory expect_mem=4608M stride=2M"
MEM=512M expect probe-memory-bzimage 0 "test memory: PASS" run_probe --kernel "$BZ" --cmdline "test=memory expect_mem=512M"
expect probe-timer 0 "test timer: PASS" run_probe --kernel "$ELF" --cmdline "test=timer"
expect probe-timer-bzimage 0 "test timer: PASS" run_probe --kernel "$BZ" --cmdline "test=timer"

# An initramfs with known contents: the probe checks its address, size and byte sum.
head -c 300000 /dev/urandom >"$TMP/initrd.img"
INITRD_SIZE=$(stat -c %s "$TMP/initrd.img")
INITRD_SUM=$(python3 -c 'import sys; print("%x" % (sum(open(sys.argv[1],"rb").read()) & 0xffffffff))' "$TMP/initrd.img")
expect probe-bootparams-bzimage 0 "test bootparams: PASS" run_probe --kernel "$BZ" --initramfs "$TMP/initrd.img" \
	--cmdline "test=bootparams initrd_size=$INITRD_SIZE initrd_sum=$INITRD_SUM"
expect probe-bootparams-vmlinux 0 "test bootparams: PASS" run_probe --kernel "$BUILD/guest/probe-vmlinux.elf" --initramfs "$TMP/initrd.img" \
	--cmdline "test=bootparams initrd_size=$INITRD_SIZE initrd_sum=$INITRD_SUM"
expect probe-bootparams-pvh 0 "test bootparams: PASS" run_probe --kernel "$ELF" --initramfs "$TMP/initrd.img" \
	--cmdline "test=bootparams initrd_size=$INITRD_SIZE initrd_sum=$INITRD_SUM"
# The probe must notice a wrong checksum: the test can fail.
expect probe-bootparams-detects-bad-sum 1 "test bootparams: FAIL" run_probe --kernel "$BZ" --initramfs "$TMP/initrd.img" \
	--cmdline "test=bootparams initrd_size=$INITRD_SIZE initrd_sum=1234"

expect probe-unknown-test 1 "unknown test" run_probe --kernel "$ELF" --cmdline "test=nonesuch"
expect triple-fault-reported 6 "triple fault" run_probe --kernel "$ELF" --cmdline "test=triple-fault"
expect serial-to-file 0 "" run_probe --kernel "$ELF" --cmdline "test=hello" --serial file="$TMP/console.txt"
expect serial-file-content 0 "Hello from the cellvm probe guest" cat "$TMP/console.txt"
expect serial-off 0 "" run_probe --kernel "$ELF" --cmdline "test=hello" --serial off
expect sigterm-stops-vm 8 "stopped by a signal|signal 15" sh -c \
	"\"$CELLVM\" --kernel \"$ELF\" --memory size=64M --cmdline test=idle -v & p=\$!; sleep 1; kill -TERM \$p; wait \$p"
# Clean teardown: cellvm audits /proc/self/fd and /proc/self/task after destroying the VM.
expect teardown-clean-smp 0 "no fd or thread left behind" run_probe -v --kernel "$ELF" --cpus boot=4 --cmdline "test=smp cpus=4"
expect teardown-clean-serial-file 0 "no fd or thread left behind" run_probe -v --kernel "$ELF" --cmdline "test=hello" --serial file="$TMP/c2.txt"
expect teardown-clean-triple-fault 6 "no fd or thread left behind" run_probe -v --kernel "$ELF" --cmdline "test=triple-fault"
expect teardown-clean-bad-payload 3 "no fd or thread left behind" run_probe -v --kernel "$TMP/initrd.img"
# Guest power-off and reboot through the FADT registers, without the debug-exit port.
expect guest-poweroff-acpi 0 "guest powered off \(ACPI S5, PM1 control\)" "$CELLVM" -v --memory size=64M --kernel "$ELF" --cmdline "test=poweroff"
expect guest-reboot-acpi 5 "guest requested a reboot" "$CELLVM" -v --memory size=64M --kernel "$BZ" --cmdline "test=reboot"
expect log-file-written 0 "" run_probe -v --kernel "$ELF" --cmdline "test=hello" --log-file "$TMP/cellvm.log"
expect log-file-content 0 "teardown: no fd or thread left behind" cat "$TMP/cellvm.log"

# Guest RAM from hugetlbfs-backed memfd: needs 2 MiB pages reserved on the host.
HP=/proc/sys/vm/nr_hugepages
if [ -w "$HP" ]; then
	old_hp=$(cat "$HP")
	echo $((old_hp + 40)) >"$HP"
	if [ "$(cat "$HP")" -ge $((old_hp + 32)) ]; then
		expect hugepages-memory 0 "test memory: PASS" run_probe --memory size=64M,hugepages=on --kernel "$ELF" --cmdline "test=memory expect_mem=64M"
	else
		skip hugepages-memory "the kernel could not reserve 2 MiB pages"
	fi
	echo "$old_hp" >"$HP"
else
	skip hugepages-memory "cannot reserve hugepages (not root)"
fi
expect hugepages-unaligned-rejected 2 "of 2 MiB with hugepages" "$CELLVM" --kernel "$ELF" --memory size=65M,hugepages=on

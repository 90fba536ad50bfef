# t_qemu.sh: the same probe on QEMU's microvm (TCG): proves the probe is a valid guest, so the
# cellvm results above mean cellvm behaves as QEMU does. QEMU maps exit value v to (v<<1)|1.
qemu_probe() {
	qemu-system-x86_64 -M "${QEMU_MACHINE:-microvm}" -accel tcg -nodefaults -no-user-config -nographic \
		-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -m "${MEM:-64M}" "$@"
}
export -f qemu_probe
if command -v qemu-system-x86_64 >/dev/null; then
	expect qemu-hello 1 "Hello from the cellvm probe guest" qemu_probe -kernel "$ELF" -append "test=hello"
	expect qemu-smp-2 1 "test smp: PASS" qemu_probe -smp 2 -kernel "$ELF" -append "test=smp cpus=2"
	QEMU_MACHINE=microvm,acpi=off expect qemu-smp-2-mptable 1 "test smp: PASS" qemu_probe -smp 2 -kernel "$ELF" -append "test=smp cpus=2"
	expect qemu-memory 1 "test memory: PASS" qemu_probe -kernel "$ELF" -append "test=memory expect_mem=64M"
	expect qemu-timer 1 "test timer: PASS" qemu_probe -kernel "$ELF" -append "test=timer"
	expect qemu-unknown-test 3 "unknown test" qemu_probe -kernel "$ELF" -append "test=nonesuch"
else
	skip qemu-probe "qemu-system-x86_64 is not installed"
fi

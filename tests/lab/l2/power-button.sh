# power-button.sh: L2 test: the fixed ACPI power button (cellvm's vm.power-button) reaches Linux as an SCI.
# There is no acpid or logind in this initramfs (and no input layer in the minimal kernel), so the test does
# what they would: enables the fixed event, waits for ACPICA to count it, and the init then powers off.
f=/sys/firmware/acpi/interrupts/ff_pwr_btn
if [ ! -f "$f" ]; then
	echo "L2-RESULT: power-button FAIL no $f (ACPI without fixed events: a HW-reduced FADT?)"
	exit 0
fi
grep -q ' enabled' "$f" || echo enable >"$f"
echo "L2-POWERBUTTON: ready ($f: $(cat "$f"))"
i=0
while [ "$i" -lt 600 ]; do
	n=$(awk '{ print $1 }' "$f")
	if [ "${n:-0}" -gt 0 ]; then
		d=/sys/firmware/acpi/interrupts
		echo "L2-POWERBUTTON: SCIs $(cat $d/sci 2>/dev/null), of which not handled $(cat $d/sci_not 2>/dev/null)"
		echo "L2-RESULT: power-button PASS the SCI came ($f: $(cat "$f")), powering off"
		exit 0
	fi
	i=$((i + 1))
	sleep 0.1
done
echo "L2-RESULT: power-button FAIL no power-button event in 60 s ($f: $(cat "$f"))"

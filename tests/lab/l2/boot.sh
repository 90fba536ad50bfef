# boot.sh: L2 test: init runs, sees LAB_CPUS CPUs and a MemTotal fitting LAB_MEM MiB, modules (cloud kernel) loaded,
# and the kernel found nothing wrong with cellvm's ACPI tables (no ACPI/BIOS error, no firmware-bug line).
cpus=$(grep -c '^processor' /proc/cpuinfo)
mem=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
want=$((LAB_MEM * 1024))
why=""
[ "$cpus" = "$LAB_CPUS" ] || why="$why cpus=$cpus, expected $LAB_CPUS;"
# The kernel keeps some RAM for itself: accept 75% to 100% of the configured size.
[ "$mem" -gt $((want * 3 / 4)) ] && [ "$mem" -le "$want" ] || why="$why MemTotal=$mem kB for $LAB_MEM MiB;"
[ -z "$LAB_MODFAIL" ] || why="$why insmod failed:$LAB_MODFAIL;"
dmesg | grep -iE 'ACPI (BIOS )?(Error|Warning)|Firmware Bug|FW_BUG' >/tmp/acpi.err
[ ! -s /tmp/acpi.err ] || { cat /tmp/acpi.err; why="$why kernel complained about the firmware: $(head -1 /tmp/acpi.err);"; }
# Where the boot spent its time: the three largest gaps between two kernel log lines.
dmesg | awk -F'[][]' '/^\[/ { t = $2 + 0; if (NR > 1) printf "%.3f %s -> %s\n", t - p, prev, $0; p = t; prev = $0 }' |
	sort -rn | head -3 | sed 's/^/L2-BOOT: gap /'
echo "L2-BOOT: kernel log $(dmesg | wc -l) lines, $(dmesg | wc -c) bytes"
echo "L2-BOOT: ACPI: $(dmesg | grep -ciE 'acpi') kernel lines, $(ls /sys/bus/acpi/devices 2>/dev/null | wc -l) ACPI devices, clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
if [ -z "$why" ]; then
	echo "L2-RESULT: boot PASS cpus=$cpus MemTotal=${mem}kB modules=$(wc -l </proc/modules 2>/dev/null || echo 0)"
else
	echo "L2-RESULT: boot FAIL$why"
fi

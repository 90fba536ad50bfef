# cpu-hotplug.sh: L2 test: vm.resize adds a vCPU (ACPI processor hotplug), Linux onlines it and runs on it,
# then vm.resize takes it back (eject request: Linux offlines it, runs _EJ0 and forgets the CPU).
fail() { echo "L2-RESULT: cpu-hotplug FAIL $*"; exit 1; }
cpus() { grep -c '^processor' /proc/cpuinfo; }
. /lab/tests/lib.sh
c=/sys/devices/system/cpu
[ "$(cpus)" = 1 ] || fail "$(cpus) CPUs at boot, expected 1"
[ ! -e $c/cpu1 ] || fail "cpu1 exists before the resize"
echo "L2-CPUHP: ready for 2 vCPUs (possible $(cat $c/possible), present $(cat $c/present))"
wait_for present $c/cpu1/online || fail "no $c/cpu1 60 s after asking (present $(cat $c/present))"
echo 1 >$c/cpu1/online || fail "onlining cpu1 failed"
[ "$(cpus)" = 2 ] || fail "$(cpus) CPUs after onlining cpu1"
grep -q '^processor.*: 1' /proc/cpuinfo || fail "no processor 1 in /proc/cpuinfo"
ticks=$(awk '/^cpu1 / { print $2 + $3 + $4 + $5 }' /proc/stat)
sleep 1
ticks2=$(awk '/^cpu1 / { print $2 + $3 + $4 + $5 }' /proc/stat)
[ "${ticks2:-0}" -gt "${ticks:-0}" ] || fail "cpu1's time in /proc/stat does not move ($ticks, $ticks2)"
echo "L2-CPUHP: cpu1 online and ticking (online $(cat $c/online)); ready for 1 vCPU"
wait_for absent $c/cpu1 || fail "$c/cpu1 still there 60 s after asking for it back (online $(cat $c/online))"
[ "$(cat $c/online)" = 0 ] || fail "online CPUs $(cat $c/online) after the removal"
echo "L2-RESULT: cpu-hotplug PASS cpu1 added, onlined, used and removed (present $(cat $c/present))"

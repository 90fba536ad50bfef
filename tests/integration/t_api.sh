# t_api.sh: the API socket from the command line, and cellvm-remote (the schema checks are in tests/api).
REMOTE=$BUILD/cellvm-remote
export REMOTE

api_session() { # --kernel plus --api-socket is vm.create + vm.boot; the API then sees it running
	local s=$TMP/api1.sock
	"$CELLVM" --api-socket "$s" --kernel "$ELF" --cmdline test=idle --memory size=64M --serial off -v &
	local p=$!
	for _ in $(seq 50); do [ -S "$s" ] && break; sleep 0.05; done
	"$REMOTE" --api-socket "$s" info | grep -q '"state":"Running"' || echo "info: not Running"
	"$REMOTE" --api-socket "$s" pause && "$REMOTE" --api-socket "$s" resume || echo "pause/resume failed"
	"$REMOTE" --api-socket "$s" shutdown-vmm
	wait $p
}
export -f api_session
expect api-cli-kernel-is-create-and-boot 0 "no fd or thread left behind" api_session

api_poweroff() { "$CELLVM" --api-socket "$TMP/api2.sock" --kernel "$ELF" --cmdline test=poweroff --memory size=64M -v; }
export -f api_poweroff
expect api-guest-poweroff-ends-vmm 0 "guest powered off" api_poweroff

api_press() { # api_press TEST COMMAND EXTRA...: the probe says "TEST: ready", cellvm-remote sends COMMAND
	local t=$1 cmd=$2 s=$TMP/press-$1.sock con=$TMP/press-$1.con
	shift 2
	"$CELLVM" --api-socket "$s" --kernel "$ELF" --cmdline "test=$t" --memory size=64M \
		--serial file="$con" -v "$@" &
	local p=$! rc
	for _ in $(seq 200); do grep -q "$t: ready" "$con" 2>/dev/null && break; sleep 0.05; done
	"$REMOTE" --api-socket "$s" "$cmd" || echo "cellvm-remote $cmd failed"
	wait $p
	rc=$?
	cat "$con"
	grep -q "test $t: PASS" "$con" || { echo "the probe did not pass"; return 1; }
	return $rc
}
export -f api_press
# vm.power-button: the probe enables the fixed event, takes the SCI, powers off through PM1 control.
expect api-power-button 0 "guest powered off \\(ACPI S5, PM1 control\\)" api_press power-button power-button
# vm.resize: CPU hotplug. One vCPU of two at boot; resize to 2 (the probe takes the GPE and starts
# CPU 1 with INIT/SIPI), then back to 1 (eject request; the probe ejects it as _EJ0 does).
api_cpu_hotplug() {
	local s=$TMP/cpuhp.sock con=$TMP/cpuhp.con
	"$CELLVM" --api-socket "$s" --kernel "$ELF" --cmdline test=cpu-hotplug --memory size=64M \
		--cpus boot=1,max=2 --serial file="$con" --debug-exit -v &
	local p=$! rc bad=0
	for _ in $(seq 200); do grep -q "ready for 2" "$con" 2>/dev/null && break; sleep 0.05; done
	"$REMOTE" --api-socket "$s" resize cpus=3 && { echo "resize beyond max_vcpus was accepted"; bad=1; }
	"$REMOTE" --api-socket "$s" resize cpus=2 || { echo "resize to 2 failed"; bad=1; }
	for _ in $(seq 200); do grep -q "ready for 1" "$con" 2>/dev/null && break; sleep 0.05; done
	"$REMOTE" --api-socket "$s" info | grep -q '"boot_vcpus":2,"max_vcpus":2' ||
		{ echo "info: not 2 of 2 vCPUs"; bad=1; }
	"$REMOTE" --api-socket "$s" resize cpus=1 || { echo "resize to 1 failed"; bad=1; }
	wait $p
	rc=$?
	cat "$con"
	grep -q "test cpu-hotplug: PASS" "$con" || { echo "the probe did not pass"; bad=1; }
	[ "$bad" = 0 ] || return 1
	return $rc
}
export -f api_cpu_hotplug
expect api-resize-cpu-hotplug 0 "the guest ejected CPU 1" api_cpu_hotplug
# vm.nmi: an NMI reaches the probe's handler (vCPU 1 never started: the NMI waits there, as on hardware).
expect api-nmi 0 "test nmi: PASS" api_press nmi nmi --debug-exit --cpus boot=2

busy() {
	/usr/bin/python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); import time; time.sleep(5)' "$TMP/busy.sock" &
	sleep 0.5
	"$CELLVM" --api-socket "$TMP/busy.sock"
}
export -f busy
expect api-socket-in-use 2 "already in use by another process" busy
touch "$TMP/notasocket"
expect api-socket-not-a-socket 2 "exists and is not a socket" "$CELLVM" --api-socket "$TMP/notasocket"
expect api-socket-fd-not-socket 2 "fd=0: not a listening socket" "$CELLVM" --api-socket fd=0

fd_session() { # a listening socket inherited as fd=N, as a parent like Kata's jailer may pass it
	/usr/bin/python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[2]); s.listen()
os.set_inheritable(s.fileno(), True)
os.execv(sys.argv[1], [sys.argv[1], "--api-socket", "fd=%d" % s.fileno(), "-v"])' "$CELLVM" "$TMP/fd.sock" &
	local p=$!
	for _ in $(seq 50); do [ -S "$TMP/fd.sock" ] && break; sleep 0.05; done
	sleep 0.2
	"$REMOTE" --api-socket "$TMP/fd.sock" ping && "$REMOTE" --api-socket "$TMP/fd.sock" shutdown-vmm
	wait $p
}
export -f fd_session
expect api-socket-fd 0 "\"version\"" fd_session
expect remote-unreachable 3 "cannot reach cellvm" "$REMOTE" --api-socket "$TMP/nobody.sock" ping
expect remote-bad-command 2 "unknown command" "$REMOTE" --api-socket "$TMP/nobody.sock" frob
expect remote-error-status 1 "the VM is not created" sh -c \
	"\"$CELLVM\" --api-socket \"$TMP/e.sock\" & sleep 0.3; \"$REMOTE\" --api-socket \"$TMP/e.sock\" add-disk path=/x; rc=\$?; \"$REMOTE\" --api-socket \"$TMP/e.sock\" shutdown-vmm >/dev/null; wait; exit \$rc"

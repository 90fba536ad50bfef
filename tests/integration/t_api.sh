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

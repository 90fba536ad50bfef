# backend.sh: helpers the backend test scripts share (sourced): wait for a backend's socket, reap it.
# They use $T (the test's temporary directory) and $PID (the backend under test).

# Waits up to 5 s for the backend's listening socket $T/sock.
wait_socket() {
	i=0
	while [ ! -S "$T/sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	[ -S "$T/sock" ]
}

# Waits for the backend to exit by itself; ST = its status (124 if it had to be killed).
reap() {
	i=0
	while kill -0 "$PID" 2>/dev/null && [ $i -lt 100 ]; do
		[ "$(awk '{print $3}' /proc/$PID/stat 2>/dev/null)" = Z ] && break
		sleep 0.05; i=$((i + 1))
	done
	if [ $i -ge 100 ]; then kill -9 "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; ST=124
	else wait "$PID"; ST=$?; fi
	PID=
}

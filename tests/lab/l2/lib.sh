# lib.sh: shell helpers the L2 test scripts source (not a test itself).
# wait_for present|absent PATH [S]: waits up to S seconds (60) for PATH to appear or go.
wait_for() {
	local i=0
	while [ $i -lt $((${3:-60} * 10)) ]; do
		if [ "$1" = present ]; then [ -e "$2" ] && return 0; else [ -e "$2" ] || return 0; fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

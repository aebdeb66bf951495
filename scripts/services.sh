#!/usr/bin/env bash
# Runs a command with the services the kiosk's tests and demo need (pcscd with the
# vpcd virtual readers), then stops what it started, by PID, whatever the outcome.
# A pcscd already running (say, the system's) is used as it is and left alone.
set -uo pipefail

started_pid=""
cleanup() {
	if [[ -n $started_pid ]]; then
		kill "$started_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$started_pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$started_pid" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pcscd_answers() {
	# A live pcscd process and its socket; a stale socket alone is not enough.
	[[ -S /run/pcscd/pcscd.comm ]] && pidof pcscd >/dev/null
}

if ! pcscd_answers; then
	if [[ $(id -u) != 0 ]]; then
		echo "services.sh: pcscd is not running and starting it needs root (sudo pcscd -f &)" >&2
		# The demo runs without a card reader (it reports it absent); tests do not.
		[[ ${SERVICES_OPTIONAL:-} == 1 ]] && exec "$@"
		exit 1
	fi
	mkdir -p /run/pcscd
	pcscd -f >"${TMPDIR:-/tmp}/kiosk-pcscd.log" 2>&1 &
	started_pid=$!
	for _ in $(seq 100); do pcscd_answers && break; sleep 0.05; done
	if ! pcscd_answers; then
		echo "services.sh: pcscd did not come up; its log:" >&2
		cat "${TMPDIR:-/tmp}/kiosk-pcscd.log" >&2
		exit 1
	fi
fi

"$@"

#!/bin/sh
# hvctl_signal.sh HVCTL GUEST SIGNAL STATUS [ignored]: runs the spin guest (prints "R", then loops
# forever) under `hvctl run`, sends SIGNAL once the guest is running, and checks that hvctl stopped
# the machine itself ("stopped by SIGsignal" on stderr, which a process killed by the signal never
# writes) and exited with STATUS.
# With "ignored", hvctl starts with SIGNAL ignored, as a shell's background job starts with SIGINT:
# the signal must then leave hvctl running, and a SIGTERM 1 s later stops it with STATUS.
hvctl=$1 guest=$2 signal=$3 expect=$4 ignored=$5
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
if [ "$ignored" = ignored ]; then
  (trap '' "$signal"; exec "$hvctl" run --load 0x1000 "$guest" >"$dir/out" 2>"$dir/err" </dev/null) &
else
  # A background job of a non-interactive shell starts with SIGINT ignored: undo that.
  env --default-signal="$signal" "$hvctl" run --load 0x1000 "$guest" >"$dir/out" 2>"$dir/err" </dev/null &
fi
pid=$!
tries=0
until [ -s "$dir/out" ]; do
  tries=$((tries + 1))
  if [ $tries -gt 600 ]; then
    kill -KILL $pid
    echo "the guest did not start within 60 s"
    exit 1
  fi
  sleep 0.1
done
kill -"$signal" $pid
if [ "$ignored" = ignored ]; then
  sleep 1
  if ! kill -0 $pid 2>/dev/null; then
    echo "hvctl run ended on SIG$signal, which was ignored when it started"
    cat "$dir/err"
    exit 1
  fi
  signal=TERM
  kill -TERM $pid
fi
wait $pid
status=$?
cat "$dir/err"
if [ $status -ne "$expect" ]; then
  echo "hvctl run: exit status $status after SIG$signal, expected $expect"
  exit 1
fi
if ! grep -q "^hvctl run: stopped by SIG$signal\$" "$dir/err"; then
  echo "hvctl run: no 'stopped by SIG$signal' message"
  exit 1
fi
echo "hvctl run: SIG$signal stopped the machine, exit status $status"

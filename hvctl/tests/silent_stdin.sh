#!/bin/sh
# silent_stdin.sh HVCTL: runs the demo guest (which ends by itself in well under a second) with standard
# input a FIFO whose writer stays open and never writes. hvctl must exit 0 once the guest ends: the
# stdin pump may not hold it. `timeout 30` turns a pump that does not stop into exit 124.
hvctl=$1
dir=$(mktemp -d) || exit 1
mkfifo "$dir/in" || exit 1
sleep 60 > "$dir/in" &
writer=$!
trap 'kill $writer 2>/dev/null; rm -rf "$dir"' EXIT
timeout 30 "$hvctl" run < "$dir/in" > "$dir/out" 2> "$dir/err"
status=$?
if [ "$status" -ne 0 ] || ! grep -q "hvkit demo guest" "$dir/out"; then
  echo "hvctl run with a silent open stdin: exit $status (expected 0, 124 = still running after 30 s)"
  cat "$dir/out" "$dir/err"
  exit 1
fi
echo "hvctl run with a silent open stdin: exit 0 once the guest ended"

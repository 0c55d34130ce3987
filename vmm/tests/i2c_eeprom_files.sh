# i2c_eeprom_files.sh: sourced by run_vhost_user_i2c.sh and qemu_vhost_user_i2c.sh (issue #16). The
# two EEPROM files the virtio-i2c guests (guests/i2c_core.inc) work on, made and checked from the host.
#   i2c_make_file_b PATH     writes the 256-byte file B: byte i = i ^ 0x5a
#   i2c_check_files A B WHEN checks that A holds what the guest leaves in 0x50 (0xff everywhere
#                            except 0x00..0x03 = c5..c8, 0x10..0x17 = "hvkit-i2", 0x41 = 0xbb,
#                            0x80..0x8f = e0..ef, 0xfc..0xff = c1..c4) and that B is still the
#                            pattern; WHEN names the moment in the messages. Prints "FAILED: ..." and
#                            returns 1 on a difference.

# i2c_expected_a: file A's 256 expected bytes, as decimal numbers one per line.
i2c_expected_a() {
  local -a a
  local i
  for ((i = 0; i < 256; i++)); do a[i]=255; done
  local wrap=(0xc1 0xc2 0xc3 0xc4 0xc5 0xc6 0xc7 0xc8) text=hvkit-i2
  for ((i = 0; i < 8; i++)); do
    a[(0xfc + i) % 256]=$((wrap[i]))
    printf -v 'a[0x10 + i]' '%d' "'${text:i:1}"
  done
  a[0x41]=$((0xbb))
  for ((i = 0; i < 16; i++)); do a[0x80 + i]=$((0xe0 + i)); done
  printf '%s\n' "${a[@]}"
}

i2c_expected_b() {
  local i
  for ((i = 0; i < 256; i++)); do echo $((i ^ 0x5a)); done
}

i2c_make_file_b() {
  local i bytes=''
  for ((i = 0; i < 256; i++)); do printf -v bytes '%s\\0%03o' "$bytes" $((i ^ 0x5a)); done
  printf '%b' "$bytes" > "$1"
}

# i2c_compare FILE NAME WHEN EXPECTED-FUNCTION: FILE is 256 bytes, the function's.
i2c_compare() {
  local file=$1 name=$2 when=$3 expected=$4 size
  size=$(stat -c %s "$file" 2> /dev/null) || { echo "FAILED: $when: no $name ($file)"; return 1; }
  if [ "$size" != 256 ]; then
    echo "FAILED: $when: $name has $size bytes, not 256"
    return 1
  fi
  if ! od -An -v -tu1 "$file" | tr -s ' ' '\n' | grep -v '^$' | diff <("$expected") - > /dev/null; then
    echo "FAILED: $when: $name differs from what the guest leaves there"
    echo "offset, expected, found (the first 32 differences):"
    od -An -v -tu1 "$file" | tr -s ' ' '\n' | grep -v '^$' |
      paste -d ' ' <("$expected") - | awk '$1 != $2 { printf "  0x%02x 0x%02x 0x%02x\n", NR - 1, $1, $2 }' | head -32
    return 1
  fi
}

i2c_check_files() {
  i2c_compare "$1" "file A (0x50)" "$3" i2c_expected_a && i2c_compare "$2" "file B (0x52)" "$3" i2c_expected_b
}

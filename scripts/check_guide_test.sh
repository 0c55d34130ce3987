#!/usr/bin/env bash
# Self-test of scripts/check_guide.sh on small fake trees: a guide whose blocks are exactly the marked
# regions (indented, nested, shared by README.md and docs/guide.md) must pass; each way a block can
# drift from the code (a changed line, a missing region, an untagged C++ block, an unused, duplicate
# or unclosed region) must fail with a line naming the file and the region.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
checker="$here/check_guide.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0

# put FILE LINE...: creates FILE (and its folder) with the given lines.
put() {
  local file="$1"
  shift
  mkdir -p "$(dirname "$file")"
  printf '%s\n' "$@" > "$file"
}

make_clean_fixture() {
  local r="$1"
  mkdir -p "$r"
  (
    cd "$r"
    put examples/guide/01_hello.cpp \
      '#include <cstdio>' \
      'int main() {' \
      '  // [guide:hello]' \
      '  int answer = 42;' \
      '' \
      '  // [guide:print]' \
      '  std::printf("%d\n", answer);' \
      '  // [/guide:print]' \
      '  // [/guide:hello]' \
      '  return 0;' \
      '}'
    put examples/guide/guest.S \
      '  .code16' \
      '  # [guide:guest]' \
      '  hlt' \
      '  # [/guide:guest]'
    put README.md \
      '# fixture' \
      '```sh' \
      'make' \
      '```' \
      '```cpp guide:print' \
      'std::printf("%d\n", answer);' \
      '```'
    put docs/guide.md \
      '# Guide' \
      '```cpp guide:hello' \
      'int answer = 42;' \
      '' \
      'std::printf("%d\n", answer);' \
      '```' \
      '- a list item:' \
      '  ```cpp guide:print' \
      '  std::printf("%d\n", answer);' \
      '  ```' \
      '```asm guide:guest' \
      'hlt' \
      '```'
  )
}

# expect_pass NAME DIR / expect_fail NAME DIR PATTERN: runs the checker on DIR.
expect_pass() {
  if ! "$checker" "$2" > "$work/out" 2>&1; then
    echo "FAIL: $1: the checker failed on a guide that matches its code:"
    sed 's/^/    /' "$work/out"
    failures=$((failures + 1))
  fi
}
expect_fail() {
  if "$checker" "$2" > "$work/out" 2>&1; then
    echo "FAIL: $1: the checker passed"
    failures=$((failures + 1))
  elif ! grep -qE "$3" "$work/out"; then
    echo "FAIL: $1: no line matching /$3/ in:"
    sed 's/^/    /' "$work/out"
    failures=$((failures + 1))
  fi
}

fresh() {  # fresh NAME: a new copy of the clean fixture, printed
  rm -rf "$work/$1"
  make_clean_fixture "$work/$1"
  echo "$work/$1"
}

expect_pass "clean fixture" "$(fresh clean)"

d="$(fresh changed_line)"
sed -i 's/int answer = 42;/int answer = 43;/' "$d/docs/guide.md"
expect_fail "a changed line" "$d" 'docs/guide.md:2: block guide:hello differs'

d="$(fresh changed_source)"
sed -i 's/std::printf("%d\\n", answer);/std::puts("42");/' "$d/examples/guide/01_hello.cpp"
expect_fail "the source changed under the README" "$d" 'README.md:5: block guide:print differs'

d="$(fresh extra_line)"
sed -i 's/^hlt$/hlt\nhlt/' "$d/docs/guide.md"
expect_fail "an extra line" "$d" 'block guide:guest differs'

d="$(fresh missing_region)"
sed -i 's/guide:guest/guide:gust/' "$d/docs/guide.md"
expect_fail "a block naming no region" "$d" 'block guide:gust has no region'

d="$(fresh untagged)"
printf '%s\n' '```cpp' 'pseudo(code);' '```' >> "$d/README.md"
expect_fail "an untagged C++ block in README.md" "$d" 'README.md:8: a C\+\+ block without a guide:NAME tag'

d="$(fresh unused)"
printf '%s\n' '// [guide:spare]' 'int spare;' '// [/guide:spare]' >> "$d/examples/guide/01_hello.cpp"
expect_fail "an unused region" "$d" '01_hello.cpp:12: region spare is in no guide:spare block'

d="$(fresh duplicate)"
printf '%s\n' '# [guide:guest]' 'nop' '# [/guide:guest]' >> "$d/examples/guide/guest.S"
expect_fail "a region defined twice" "$d" 'region guest is defined twice'

d="$(fresh unclosed)"
sed -i '/\[\/guide:guest\]/d' "$d/examples/guide/guest.S"
expect_fail "an unclosed region" "$d" 'guest.S:2: region guest is never closed'

d="$(fresh stray_close)"
printf '%s\n' '# [/guide:nothing]' >> "$d/examples/guide/guest.S"
expect_fail "a region closed but never opened" "$d" 'region nothing closed but never opened'

if [ "$failures" -gt 0 ]; then
  echo "check_guide_test: $failures failure(s)" >&2
  exit 1
fi
echo "check_guide_test: ok: the checker passes a matching guide and catches 9 kinds of drift"

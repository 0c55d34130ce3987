#!/usr/bin/env bash
# Writes an SPDX 2.3 JSON software bill of materials for hvkit: the exact Debian packages (name,
# version, architecture) this machine built it with, so a dependency audit can match them against
# Debian security advisories.
#
#   scripts/sbom.sh [OUTPUT]       OUTPUT defaults to standard output ("-" is standard output too)
#
# What it lists:
#   - every package in scripts/setup.sh's `packages=(...)` (parsed from there: one list to maintain);
#   - the packages that own what the build really used, asked of the machine rather than assumed:
#     the compiler proper behind `c++` (a `g++` metapackage resolves to e.g. g++-12), the shared
#     libraries hvkit's binaries link (libstdc++6, libgcc-s1, libc6), the C/C++ headers and start
#     files (libstdc++-12-dev, libc6-dev), the kernel headers that define the KVM ABI
#     (linux-libc-dev), the assembler and linker, cmake and make.
# Environment (the CMake rule in cmake/hvkit_sbom.cmake sets both from the configured build):
#   HVKIT_SBOM_CXX    the C++ compiler to ask for its libraries (default: c++)
#   HVKIT_SBOM_TOOLS  programs the build ran, as paths or names, separated by ';' or spaces
#                     (default: c++ cc as ld cmake make)
# Fails, writing nothing, if dpkg-query is missing or a package is not installed.
set -euo pipefail

die() {
  echo "sbom: $*" >&2
  exit 1
}

if [ "$#" -gt 1 ]; then
  echo "usage: $0 [OUTPUT]" >&2
  exit 2
fi
output="${1:--}"
root="$(cd "$(dirname "$0")/.." && pwd)"
command -v dpkg-query >/dev/null 2>&1 ||
  die "dpkg-query not found: the SBOM lists Debian packages, so it needs Debian's dpkg (Debian 12 or a derivative)"

# --- inputs -----------------------------------------------------------------------------------------

version="$(sed -nE 's/^[[:space:]]*project[[:space:]]*\([[:space:]]*hvkit[[:space:]]+VERSION[[:space:]]+([0-9][0-9A-Za-z.+-]*).*/\1/p' \
  "$root/CMakeLists.txt" | head -n1)"
[ -n "$version" ] || die "no 'project(hvkit VERSION x.y.z' in $root/CMakeLists.txt"

# The words between `packages=(` and the closing `)`, comments removed.
setup_list="$(sed -n '/^[[:space:]]*packages=(/,/)/{s/#.*//;p}' "$root/scripts/setup.sh" | tr '\n' ' ' |
  sed -nE 's/.*packages=\(([^)]*)\).*/\1/p')"
read -ra setup_packages <<<"$setup_list"
[ "${#setup_packages[@]}" -gt 0 ] || die "could not parse packages=(...) from $root/scripts/setup.sh"
for p in "${setup_packages[@]}"; do
  [[ "$p" =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || die "'$p' in scripts/setup.sh's packages=(...) is not a Debian package name"
done

vendor=debian distro=debian-12
if [ -r /etc/os-release ]; then
  os_id="$(. /etc/os-release && echo "${ID:-}")"
  os_version="$(. /etc/os-release && echo "${VERSION_ID:-}")"
  if [ -n "$os_id" ]; then vendor="${os_id,,}"; fi
  if [ -n "$os_id" ] && [ -n "$os_version" ]; then distro="${os_id,,}-$os_version"; fi
fi
supplier="NOASSERTION"
if [ "$vendor" = debian ]; then supplier="Organization: Debian"; fi
native_arch="$(dpkg --print-architecture 2>/dev/null || echo amd64)"

# --- the package set ----------------------------------------------------------------------------------

# How each package relates to hvkit, strongest first when a package is found more than once:
#   depends   hvkit DEPENDS_ON it          (linked into hvkit's binaries, or required by its package)
#   tool      it BUILD_TOOL_OF hvkit       (compiler, assembler, linker, build system)
#   build     it BUILD_DEPENDENCY_OF hvkit (headers and start files compiled in)
#   testtool  it TEST_TOOL_OF hvkit        (the fuzzing compiler)
#   test      it TEST_DEPENDENCY_OF hvkit  (test, benchmark and fuzzing libraries)
#   dev       it DEV_TOOL_OF hvkit         (used to work on hvkit, not by the build)
declare -A rank=([depends]=0 [tool]=1 [build]=2 [testtool]=3 [test]=4 [dev]=5)
declare -A role=() why=() query=()
order=()

# add NAME[:ARCH] ROLE WHY: records a package (once, with its strongest role).
add() {
  local spec="$1" name="${1%%:*}" new_role="$2" reason="$3"
  if [ -z "${role[$name]+set}" ]; then
    order+=("$name")
    role[$name]="$new_role"
    why[$name]="$reason"
    query[$name]="$spec"
  elif [ "${rank[$new_role]}" -lt "${rank[${role[$name]}]}" ]; then
    role[$name]="$new_role"
    why[$name]="$reason"
  fi
}

# The roles of setup.sh's packages; one added there later defaults to a build dependency.
declare -A setup_role=(
  [cmake]=tool [g++]=tool [make]=tool [binutils]=tool [git]=dev
  [libmsgsl-dev]=depends [libexpected-dev]=depends    # the installed package find_dependency()s both
  [libgtest-dev]=test [libgmock-dev]=test [libbenchmark-dev]=test
  [clang-14]=testtool [libclang-rt-14-dev]=test      # the libFuzzer build and its sanitizer runtimes
  [qemu-system-x86]=testtool [qemu-utils]=testtool   # the QEMU interop tests
)
for p in "${setup_packages[@]}"; do
  add "$p" "${setup_role[$p]:-build}" "listed in scripts/setup.sh"
done

# owner_of PATH: prints "PACKAGE[:ARCH]<tab>FILE" for the package that installed PATH. The file a
# symlink leads to comes first (`as` is binutils' symlink to binutils-x86-64-linux-gnu's assembler,
# which is what runs); Debian 12 registers some files under /lib and others under /usr/lib, so both
# spellings are tried.
owner_of() {
  local real plain candidate line
  real="$(readlink -f "$1" 2>/dev/null || echo "$1")"
  plain="$(realpath -s -m "$1" 2>/dev/null || echo "$1")"
  for candidate in "$real" "/usr$real" "${real#/usr}" "$plain" "/usr$plain" "${plain#/usr}"; do
    [[ "$candidate" == /* ]] || continue
    line="$(dpkg-query -S "$candidate" 2>/dev/null | grep -v '^diversion ' | head -n1)" || true
    if [ -n "$line" ]; then
      line="${line%%: /*}"  # "pkg:arch, other: /path" -> "pkg:arch, other"
      printf '%s\t%s\n' "${line%%,*}" "$candidate"
      return 0
    fi
  done
  return 1
}

# resolve ROLE WHAT PATH: adds the owner of PATH; a file no package owns (a locally built compiler)
# is noted on stderr, since the SBOM then cannot vouch for it.
resolve() {
  local found
  if found="$(owner_of "$3")"; then
    add "${found%%$'\t'*}" "$1" "$2: ${found#*$'\t'}"
  else
    echo "sbom: note: $2 ($3) belongs to no Debian package; it is not listed" >&2
  fi
}

cxx="${HVKIT_SBOM_CXX:-c++}"
cxx_path="$(command -v "$cxx" 2>/dev/null)" || die "C++ compiler '$cxx' not found (set HVKIT_SBOM_CXX)"
resolve tool "C++ compiler $cxx" "$cxx_path"
# The compiler proper, which the driver runs (cc1 also preprocesses the .S guests).
for prog in cc1plus cc1; do
  p="$("$cxx_path" -print-prog-name="$prog" 2>/dev/null || true)"
  if [[ "$p" == /* ]] && [ -e "$p" ]; then resolve tool "compiler proper $prog" "$p"; fi
done
# Shared libraries every hvkit binary links (ldd hvctl: libstdc++, libgcc_s, libc and libm).
for lib in libstdc++.so.6 libgcc_s.so.1 libc.so.6; do
  p="$("$cxx_path" -print-file-name="$lib" 2>/dev/null || true)"
  if [[ "$p" != /* ]] || [ ! -e "$p" ]; then die "$cxx cannot find $lib"; fi
  resolve depends "linked library $lib" "$p"
done
# The benchmarks also link Google Benchmark's shared library (a package apart from its -dev).
p="$("$cxx_path" -print-file-name=libbenchmark.so 2>/dev/null || true)"
if [[ "$p" == /* ]] && [ -e "$p" ]; then resolve test "benchmarks link libbenchmark.so" "$p"; fi
# Headers hvkit is compiled against, where this compiler finds them: the C++ and C libraries, and the
# kernel's KVM ABI (kvm/src/kvm_abi.hpp includes <linux/kvm.h>).
headers="$(printf '#include <vector>\n#include <stdio.h>\n#include <linux/kvm.h>\n' |
  "$cxx_path" -x c++ -std=c++20 -M - 2>/dev/null | tr -s $' \\\\' '\n')" ||
  die "$cxx cannot preprocess <vector>, <stdio.h> and <linux/kvm.h>"
for header in vector stdio.h linux/kvm.h; do
  p="$(grep -m1 -E "/${header//./\\.}\$" <<<"$headers" || true)"
  [ -n "$p" ] || die "$cxx does not report where <$header> is"
  resolve build "compiled against <$header>" "$p"
done

IFS='; ' read -ra tools <<<"${HVKIT_SBOM_TOOLS:-c++ cc as ld cmake make}"
for t in "${tools[@]}"; do
  [ -n "$t" ] || continue
  if p="$(command -v "$t" 2>/dev/null)"; then
    resolve tool "build tool $t" "$p"
  else
    echo "sbom: note: build tool $t not found; it is not listed" >&2
  fi
done

# --- versions from dpkg -------------------------------------------------------------------------------

declare -A pkg_version=() pkg_arch=()
for name in "${order[@]}"; do
  spec="${query[$name]}"
  lines="$(dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n' "$spec" 2>/dev/null |
    grep '^ii' || true)"
  [ -n "$lines" ] || die "package $spec (${why[$name]}) is not installed; run scripts/setup.sh as root"
  # A multiarch package may be installed for several architectures: the native one, else the first.
  chosen="$(awk -F'\t' -v arch="$native_arch" '$4 == arch { print; exit }' <<<"$lines")"
  [ -n "$chosen" ] || chosen="$(head -n1 <<<"$lines")"
  IFS=$'\t' read -r _ _ "pkg_version[$name]" "pkg_arch[$name]" <<<"$chosen"
done

# --- JSON ---------------------------------------------------------------------------------------------

# json STRING: STRING as a JSON string literal.
json() {
  local s="$1" out="" c i
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  s="${s//$'\n'/\\n}"
  s="${s//$'\r'/\\r}"
  s="${s//$'\t'/\\t}"
  if [[ "$s" == *[[:cntrl:]]* ]]; then
    for ((i = 0; i < ${#s}; i++)); do
      c="${s:i:1}"
      if [[ "$c" == [[:cntrl:]] ]]; then out+="$(printf '\\u%04x' "'$c")"; else out+="$c"; fi
    done
    s="$out"
  fi
  printf '"%s"' "$s"
}

# purl_encode STRING: percent-encodes what the purl spec does not allow bare in a name or version:
# everything but letters, digits, ".-_~" and ':' ("the colon ':', whether used as a Separator
# Character or otherwise" is never encoded). So 2:1.0+deb12u1 becomes 2:1.0%2Bdeb12u1.
purl_encode() {
  local s="$1" out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c="${s:i:1}"
    case "$c" in
      [A-Za-z0-9.~_:-]) out+="$c" ;;
      *) out+="$(printf '%%%02X' "'$c")" ;;
    esac
  done
  printf '%s' "$out"
}

# spdx_id NAME: SPDX identifiers allow letters, digits, '.' and '-'. Debian names are lowercase, so
# spelling any other character as X + uppercase hex (libstdc++6 -> libstdcX2BX2B6) cannot collide.
spdx_id() {
  local s="$1" out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c="${s:i:1}"
    case "$c" in
      [a-z0-9.-]) out+="$c" ;;
      *) out+="$(printf 'X%02X' "'$c")" ;;
    esac
  done
  printf 'SPDXRef-deb-%s' "$out"
}

uuid="$(cat /proc/sys/kernel/random/uuid 2>/dev/null || true)"
[ -n "$uuid" ] || die "cannot read /proc/sys/kernel/random/uuid for a unique document namespace"
created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# Which commit was built, when the source is a git checkout (git is optional).
source_info="NOASSERTION"
if commit="$(git -C "$root" rev-parse HEAD 2>/dev/null)"; then
  source_info="built from git commit $commit"
  if ! git -C "$root" diff --quiet HEAD -- 2>/dev/null; then source_info+=" with uncommitted changes"; fi
fi

hvkit_id="SPDXRef-Package-hvkit"
emit() {
  echo '{'
  echo '  "spdxVersion": "SPDX-2.3",'
  echo '  "dataLicense": "CC0-1.0",'
  echo '  "SPDXID": "SPDXRef-DOCUMENT",'
  echo "  \"name\": $(json "hvkit-$version"),"
  echo "  \"documentNamespace\": $(json "https://spdx.org/spdxdocs/hvkit-$version-$uuid"),"
  echo '  "creationInfo": {'
  echo "    \"created\": $(json "$created"),"
  echo '    "creators": ["Tool: hvkit-sbom.sh"],'
  echo "    \"comment\": $(json "Debian packages installed on the build machine ($distro, $native_arch), from dpkg-query.")"
  echo '  },'
  echo '  "packages": ['
  echo '    {'
  echo "      \"SPDXID\": \"$hvkit_id\","
  echo '      "name": "hvkit",'
  echo "      \"versionInfo\": $(json "$version"),"
  echo '      "supplier": "NOASSERTION",'
  echo '      "downloadLocation": "NOASSERTION",'
  echo '      "filesAnalyzed": false,'
  echo "      \"sourceInfo\": $(json "$source_info"),"
  echo '      "licenseConcluded": "NOASSERTION",'
  echo '      "licenseDeclared": "NOASSERTION",'
  echo '      "copyrightText": "NOASSERTION",'
  echo '      "primaryPackagePurpose": "LIBRARY"'
  printf '    }'
  for name in "${order[@]}"; do
    v="${pkg_version[$name]}" a="${pkg_arch[$name]}"
    purl="pkg:deb/$vendor/$(purl_encode "$name")@$(purl_encode "$v")?arch=$(purl_encode "$a")&distro=$(purl_encode "$distro")"
    echo ','
    echo '    {'
    echo "      \"SPDXID\": $(json "$(spdx_id "$name")"),"
    echo "      \"name\": $(json "$name"),"
    echo "      \"versionInfo\": $(json "$v"),"
    echo "      \"supplier\": $(json "$supplier"),"
    echo '      "downloadLocation": "NOASSERTION",'
    echo '      "filesAnalyzed": false,'
    echo '      "licenseConcluded": "NOASSERTION",'
    echo '      "licenseDeclared": "NOASSERTION",'
    echo '      "copyrightText": "NOASSERTION",'
    echo '      "externalRefs": ['
    echo "        {\"referenceCategory\": \"PACKAGE-MANAGER\", \"referenceType\": \"purl\", \"referenceLocator\": $(json "$purl")}"
    echo '      ]'
    printf '    }'
  done
  echo
  echo '  ],'
  echo '  "relationships": ['
  printf '    {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "%s"}' "$hvkit_id"
  for name in "${order[@]}"; do
    id="$(spdx_id "$name")"
    case "${role[$name]}" in
      depends) from="$hvkit_id" type=DEPENDS_ON to="$id" ;;
      tool) from="$id" type=BUILD_TOOL_OF to="$hvkit_id" ;;
      build) from="$id" type=BUILD_DEPENDENCY_OF to="$hvkit_id" ;;
      testtool) from="$id" type=TEST_TOOL_OF to="$hvkit_id" ;;
      test) from="$id" type=TEST_DEPENDENCY_OF to="$hvkit_id" ;;
      dev) from="$id" type=DEV_TOOL_OF to="$hvkit_id" ;;
    esac
    echo ','
    printf '    {"spdxElementId": %s, "relationshipType": "%s", "relatedSpdxElement": %s, "comment": %s}' \
      "$(json "$from")" "$type" "$(json "$to")" "$(json "${why[$name]}")"
  done
  echo
  echo '  ]'
  echo '}'
}

# Written whole or not at all: a failed run must not leave a truncated SBOM for the build to install.
if [ "$output" = - ]; then
  tmp="$(mktemp)"
else
  tmp="$(mktemp "$output.XXXXXX")"
fi
trap 'rm -f "$tmp"' EXIT
emit >"$tmp"
if [ "$output" = - ]; then
  cat "$tmp"
else
  chmod 644 "$tmp"
  mv "$tmp" "$output"
fi

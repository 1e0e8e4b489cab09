#!/usr/bin/env bash
# Installs the Debian build dependencies of fox and fetches the Debian *source* packages of the C
# libraries that are built into the static binary (libwebsockets, libuv, SQLite, mbedTLS), then
# applies fox's patches (patches/) to them. raft and lz4 come as Debian built them (libraft-dev,
# liblz4-dev: installed for the native build, unpacked into sysroot/<arch>/ for the cross builds).
# Idempotent: safe to run again; it only does what is missing. Needs root for apt-get
# (run as root, or with sudo available).
#
#   fetch-deps.sh             everything
#   fetch-deps.sh --deb-src   only the deb-src entries; with FOX_APT_ETC=DIR it reads and writes
#                             DIR instead of /etc/apt (how tests/integration/test_fetch_deps.py
#                             runs it without root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

pkgs=(build-essential cmake ninja-build pkg-config dpkg-dev patch tcl file ccache git
      ca-certificates nlohmann-json3-dev doctest-dev libraft-dev liblz4-dev
      crossbuild-essential-arm64 crossbuild-essential-armhf qemu-user-static
      python3 python3-autobahn python3-msgpack python3-cbor2 python3-paho-mqtt mosquitto-clients
      supervisor curl binutils-aarch64-linux-gnu binutils-arm-linux-gnueabihf chromium
      clang-16 libclang-rt-16-dev llvm-16)
# Node.js and npm run the original fox-wamp client in tests/integration/test_fox_interop.py. A
# machine that has them already (say Nodesource's nodejs, which bundles npm and conflicts with
# Debian's npm package) keeps its own.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then pkgs+=(nodejs npm); fi

# ---- deb-src entries (apt-get source needs them) -------------------------------------------------
# They are derived from the machine's own deb entries (same URIs, suites, components, signed-by
# and other options), so a local mirror or a proxy configured there is used for the sources too;
# no host name is written by fox. fox's file carries a header and is regenerated on every run; a
# machine that has deb-src entries of its own (in any other file) is left alone.
apt_etc=${FOX_APT_ETC:-/etc/apt}
fox_src_list=$apt_etc/sources.list.d/fox-deb-src.sources
fox_src_header="# Written by fox (third_party/fetch-deps.sh) from this machine's deb entries; it is
# regenerated on every run. Put deb-src entries of your own into another file."

# deb822 files (*.sources): stanzas of "Field: value" lines separated by blank lines; a line
# starting with a space or tab continues the field above (a Signed-By key block), a line starting
# with # is a comment. want=src prints one line per enabled stanza with deb-src in its Types;
# want=deb prints a deb-src stanza for each enabled stanza with deb in its Types, keeping every
# field but Types, Enabled and the binary-only Architectures, Languages and Targets.
awk_deb822='
function reset() { n = 0; deb = 0; src = 0; on = 1; uris = 0; suites = 0; keep = 0 }
function finish(   i) {
  if (want == "src" && on && src) print "deb-src"
  if (want == "deb" && on && deb && uris && suites) {
    print "Types: deb-src"
    for (i = 1; i <= n; i++) print line[i]
    print ""
  }
  reset()
}
BEGIN { reset() }
FNR == 1 && NR != 1 { finish() }
{ sub(/\r$/, "") }
/^#/ { next }
/^[ \t]*$/ { finish(); next }
/^[ \t]/ { if (keep) line[++n] = $0; next }
{
  keep = 0
  c = index($0, ":")
  if (!c) next
  key = tolower(substr($0, 1, c - 1)); sub(/[ \t]+$/, "", key)
  val = substr($0, c + 1); gsub(/^[ \t]+|[ \t]+$/, "", val)
  if (key == "types") {
    k = split(val, t, /[ \t]+/)
    for (i = 1; i <= k; i++) { if (t[i] == "deb") deb = 1; if (t[i] == "deb-src") src = 1 }
  } else if (key == "enabled") {
    if (tolower(val) ~ /^(no|false|without|off|disable)$/) on = 0
  } else if (key != "architectures" && key != "languages" && key != "targets") {
    if (key == "uris") uris = 1
    if (key == "suites") suites = 1
    keep = 1
    line[++n] = $0
  }
}
END { finish() }
'

# One-line files (sources.list, *.list): "deb [ opt=value ... ] URI SUITE [COMPONENT...]", # starts
# a comment (a disabled entry is a commented-out line). Options become deb822 fields
# (signed-by=a,b becomes Signed-By: a b); arch, lang, target and +=/-= options are dropped.
# cdrom: entries have no sources.
awk_oneline='
function field(s,   p, k, i, r) {
  k = split(s, p, "-"); r = ""
  for (i = 1; i <= k; i++) r = r (i > 1 ? "-" : "") toupper(substr(p[i], 1, 1)) substr(p[i], 2)
  return r
}
{
  l = $0; sub(/\r$/, "", l); sub(/#.*/, "", l); gsub(/\t/, " ", l)
  sub(/^ +/, "", l); sub(/ +$/, "", l)
  sp = index(l, " ")
  if (!sp) next
  type = substr(l, 1, sp - 1); rest = substr(l, sp + 1); sub(/^ +/, "", rest)
  if (type == "deb-src") { if (want == "src") print "deb-src"; next }
  if (type != "deb" || want != "deb") next
  opts = ""
  if (substr(rest, 1, 1) == "[") {
    e = index(rest, "]")
    if (!e) next
    opts = substr(rest, 2, e - 2); rest = substr(rest, e + 1); sub(/^ +/, "", rest)
  }
  m = split(rest, f, / +/)
  if (m < 2 || f[1] ~ /^cdrom:/) next
  print "Types: deb-src"
  print "URIs: " f[1]
  print "Suites: " f[2]
  if (m > 2) {
    comps = f[3]
    for (i = 4; i <= m; i++) comps = comps " " f[i]
    print "Components: " comps
  }
  k = split(opts, o, / +/)
  for (i = 1; i <= k; i++) {
    eq = index(o[i], "=")
    if (!eq) continue
    name = tolower(substr(o[i], 1, eq - 1)); val = substr(o[i], eq + 1)
    if (name ~ /[-+]$/ || name == "arch" || name == "lang" || name == "target") continue
    gsub(/,/, " ", val)
    print field(name) ": " val
  }
  print ""
}
'

# fox's own file: it has fox's header, or (written by an older fetch-deps.sh) no comment at all.
# A file of that name with other comments is someone's own and is treated like any other.
fox_owns_src_list() {
  [ -f "$fox_src_list" ] || return 1
  if grep -qxF "$(printf '%s\n' "$fox_src_header" | head -1)" "$fox_src_list"; then return 0; fi
  ! grep -q '^[[:space:]]*#' "$fox_src_list"
}

# The files apt reads entries from, fox's own file left out: oneline=(...) and deb822=(...).
collect_apt_files() {
  oneline=()
  deb822=()
  local f
  for f in "$apt_etc/sources.list" "$apt_etc"/sources.list.d/*.list; do
    if [ -f "$f" ]; then oneline+=("$f"); fi
  done
  for f in "$apt_etc"/sources.list.d/*.sources; do
    if [ -f "$f" ] && { [ "$f" != "$fox_src_list" ] || ! fox_owns_src_list; }; then deb822+=("$f"); fi
  done
  return 0
}

apt_entries() { # apt_entries src|deb
  local rc=0
  if [ ${#deb822[@]} -gt 0 ]; then awk -v want="$1" "$awk_deb822" "${deb822[@]}" || rc=1; fi
  if [ ${#oneline[@]} -gt 0 ]; then awk -v want="$1" "$awk_oneline" "${oneline[@]}" || rc=1; fi
  return $rc
}

ensure_deb_src() {
  collect_apt_files
  local existing stanzas content
  existing=$(apt_entries src)
  if ! fox_owns_src_list && [ -n "$existing" ]; then return 0; fi
  stanzas=$(apt_entries deb)
  if [ -z "$stanzas" ]; then
    echo "fetch-deps: no enabled 'deb' entry in $apt_etc/sources.list or $apt_etc/sources.list.d/" \
         "(*.list, *.sources) to derive the deb-src entry from: add a deb-src entry for your" \
         "Debian mirror (a stanza 'Types: deb-src' with the URIs, Suites and Components of your" \
         "mirror in $apt_etc/sources.list.d/debian-src.sources) and run this again" >&2
    exit 1
  fi
  content=$(printf '%s\n\n%s' "$fox_src_header" "$stanzas")
  if [ -f "$fox_src_list" ] && [ "$(cat "$fox_src_list")" = "$content" ]; then return 0; fi
  local sudo=$SUDO
  if [ -w "$(dirname "$fox_src_list")" ]; then sudo=""; fi
  printf '%s\n' "$content" | $sudo tee "$fox_src_list" >/dev/null
  echo "fetch-deps: wrote $fox_src_list (deb-src entries of this machine's deb entries)"
  need_update=1
}

need_update=0
ensure_deb_src
if [ "${1:-}" = --deb-src ]; then exit 0; fi

# ---- foreign architectures (for the cross builds' raft and lz4, below) ---------------------------
# apt fetches the package lists of an architecture only when dpkg knows it; it is added once.
cross_archs=(arm64 armhf)
for a in "${cross_archs[@]}"; do
  if ! dpkg --print-foreign-architectures | grep -qxF "$a"; then
    echo "fetch-deps: dpkg --add-architecture $a (package lists only: nothing is installed for it)"
    $SUDO dpkg --add-architecture "$a"
    need_update=1
  fi
done

# ---- Debian packages -----------------------------------------------------------------------------
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ] || [ $need_update = 1 ] || [ ! -d /var/lib/apt/lists ] || [ -z "$(ls /var/lib/apt/lists 2>/dev/null | grep -i source || true)" ]; then
  $SUDO apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "fetch-deps: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ---- raft and lz4 for the cross builds ----------------------------------------------------------
# Debian's source package of raft is not on the package mirrors (apt-get source finds only its
# .dsc), so raft is the one C library fox links as Debian built it: libraft-dev ships libraft.a
# (with the in-memory test fixture and raft_uv), built with lz4, whose liblz4.a is in liblz4-dev.
# The native build uses the installed packages (pkgs above). For each cross architecture the same
# two .debs are downloaded (apt-get download, the candidate version) and unpacked with dpkg-deb
# into sysroot/<arch>/ (git-ignored; ../cmake/deps.cmake reads usr/include and usr/lib/<triplet>
# there). sysroot/<arch>/.fox-fetched names the versions unpacked; a newer candidate (a Debian
# update) replaces the tree.
cross_pkgs=(libraft-dev liblz4-dev)
candidate() { apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }'; }

fetch_cross() { # fetch_cross ARCH
  local arch=$1 dest=$here/sysroot/$1 p v want=() tmp deb
  for p in "${cross_pkgs[@]}"; do
    v=$(candidate "$p:$arch")
    if [ -z "$v" ] || [ "$v" = "(none)" ]; then
      $SUDO apt-get update -qq
      v=$(candidate "$p:$arch")
    fi
    if [ -z "$v" ] || [ "$v" = "(none)" ]; then
      echo "fetch-deps: apt knows no $p for $arch (is it in dpkg --print-foreign-architectures?)" \
           >&2
      exit 1
    fi
    want+=("$p:$arch=$v")
  done
  if [ -f "$dest/.fox-fetched" ] && [ "$(cat "$dest/.fox-fetched")" = "${want[*]}" ]; then
    return 0
  fi
  tmp=$(mktemp -d)
  # apt downloads as the _apt user when it can: let it write there.
  if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$tmp"; fi
  (cd "$tmp" && apt-get download -qq "${want[@]}") ||
    { rm -rf "$tmp"; echo "fetch-deps: apt-get download ${want[*]} failed" >&2; exit 1; }
  rm -rf "$dest"
  mkdir -p "$dest"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$dest"; done
  rm -rf "$tmp"
  printf '%s\n' "${want[*]}" > "$dest/.fox-fetched"
  echo "fetch-deps: ${want[*]} -> sysroot/$arch"
}
for a in "${cross_archs[@]}"; do fetch_cross "$a"; done

# ---- Debian source trees (with Debian's security patches applied by dpkg-source) ----------------
# Then fox's own patches: patches/LINKNAME-*.patch, applied with patch -p1 inside the tree. Each
# applied patch leaves .fox-patch-NAME in the tree, holding the patch's SHA-256: cmake/deps.cmake
# refuses a tree whose markers do not match patches/ and rebuilds a library when they change. A
# tree patched with a patch that has since changed or been removed is fetched afresh.
cd "$here"
patch_sum() { sha256sum < "$1" | cut -d' ' -f1; }

patched_differently() { # patched_differently LINKNAME
  local marker p
  for marker in "$1"/.fox-patch-*; do
    [ -e "$marker" ] || continue
    p=patches/${marker##*/.fox-patch-}.patch
    if [ ! -f "$p" ] || [ "$(cat "$marker")" != "$(patch_sum "$p")" ]; then return 0; fi
  done
  return 1
}

apply_patches() { # apply_patches LINKNAME
  local link=$1 p name
  for p in patches/"$link"-*.patch; do
    [ -f "$p" ] || continue
    name=$(basename "$p" .patch)
    [ ! -e "$link/.fox-patch-$name" ] || continue
    if patch -d "$link" -p1 --forward --batch --silent --dry-run < "$p" >/dev/null 2>&1; then
      patch -d "$link" -p1 --forward --batch --silent < "$p" ||
        { echo "fetch-deps: applying $p to $link failed" >&2; exit 1; }
      echo "fetch-deps: applied $p to $link"
    elif patch -d "$link" -p1 --reverse --batch --silent --dry-run < "$p" >/dev/null 2>&1; then
      echo "fetch-deps: $p was applied to $link already (its marker was missing)"
    else
      echo "fetch-deps: $p does not apply to $link ($(readlink "$link"))" >&2
      exit 1
    fi
    patch_sum "$p" > "$link/.fox-patch-$name"
  done
  return 0
}

fetch() { # fetch SRCPKG DIRGLOB LINKNAME
  local pkg=$1 glob=$2 link=$3
  if [ -e "$link/.fox-fetched" ] && patched_differently "$link"; then
    echo "fetch-deps: $link carries a patch that changed or is gone: fetching it afresh"
    local old
    old=$(readlink "$link" || true)
    case $old in src/?*) rm -rf "$old" ;; esac
  fi
  if [ ! -e "$link/.fox-fetched" ]; then
    rm -rf "$link"
    mkdir -p src && (cd src && apt-get source -qq "$pkg" >/dev/null)
    local dir
    dir=$(ls -d src/$glob 2>/dev/null | grep -v '\.' | head -1 || true)
    [ -n "$dir" ] || dir=$(find src -maxdepth 1 -type d -name "$glob" | head -1)
    [ -n "$dir" ] || { echo "fetch-deps: source of $pkg not found after apt-get source" >&2; exit 1; }
    ln -sfn "$dir" "$link"
    touch "$link/.fox-fetched"
    echo "fetch-deps: $pkg -> $dir"
  fi
  apply_patches "$link"
}
fetch libwebsockets 'libwebsockets-*' libwebsockets
fetch libuv1 'libuv1-*' libuv
fetch mbedtls 'mbedtls-*' mbedtls
fetch sqlite3 'sqlite3-*' sqlite

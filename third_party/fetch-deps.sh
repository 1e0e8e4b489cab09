#!/usr/bin/env bash
# Installs the Debian build dependencies of fox and fetches the Debian *source* packages of the C
# libraries that are built into the static binary (libwebsockets, libuv, SQLite, mbedTLS).
# Idempotent: safe to run again; it only does what is missing. Needs root for apt-get
# (run as root, or with sudo available).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

pkgs=(build-essential cmake ninja-build pkg-config dpkg-dev tcl file ccache git ca-certificates
      nlohmann-json3-dev doctest-dev
      crossbuild-essential-arm64 crossbuild-essential-armhf qemu-user-static
      python3 python3-autobahn python3-msgpack python3-cbor2 python3-paho-mqtt mosquitto-clients
      supervisor curl binutils-aarch64-linux-gnu binutils-arm-linux-gnueabihf)

# deb-src entries for bookworm, bookworm-updates and bookworm-security (apt-get source needs them).
src_list=/etc/apt/sources.list.d/fox-deb-src.sources
need_update=0
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list 2>/dev/null; then
  $SUDO tee "$src_list" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  need_update=1
fi
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ] || [ $need_update = 1 ] || [ ! -d /var/lib/apt/lists ] || [ -z "$(ls /var/lib/apt/lists 2>/dev/null | grep -i source || true)" ]; then
  $SUDO apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "fetch-deps: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian source trees (with Debian's security patches applied by dpkg-source).
cd "$here"
fetch() { # fetch SRCPKG DIRGLOB LINKNAME
  local pkg=$1 glob=$2 link=$3
  if [ -e "$link/.fox-fetched" ]; then return; fi
  rm -rf "$link"
  mkdir -p src && (cd src && apt-get source -qq "$pkg" >/dev/null)
  local dir
  dir=$(ls -d src/$glob 2>/dev/null | grep -v '\.' | head -1 || true)
  [ -n "$dir" ] || dir=$(find src -maxdepth 1 -type d -name "$glob" | head -1)
  [ -n "$dir" ] || { echo "fetch-deps: source of $pkg not found after apt-get source" >&2; exit 1; }
  ln -sfn "$dir" "$link"
  touch "$link/.fox-fetched"
  echo "fetch-deps: $pkg -> $dir"
}
fetch libwebsockets 'libwebsockets-*' libwebsockets
fetch libuv1 'libuv1-*' libuv
fetch mbedtls 'mbedtls-*' mbedtls
fetch sqlite3 'sqlite3-*' sqlite

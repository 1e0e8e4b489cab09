#!/usr/bin/env bash
# Builds fox_<version>_<arch>.deb from a built fox binary (make deb runs it for amd64, arm64 and
# armhf): the stripped static binary, the systemd unit, /etc/fox/fox.json (a conffile), the
# maintainer scripts and the licence notices in /usr/share/doc/fox/.
#   boards/deb/build-deb.sh ARCH BINARY OUTDIR VERSION [STRIP]
set -euo pipefail
arch=$1 bin=$2 out=$3 version=$4 strip=${5:-strip}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
case $arch in amd64|arm64|armhf) ;; *) echo "build-deb: unknown architecture $arch" >&2; exit 2;; esac
[ -x "$bin" ] || { echo "build-deb: $bin is not a built fox" >&2; exit 2; }
root=$(mktemp -d)
chmod 755 "$root"
trap 'rm -rf "$root"' EXIT
umask 022
install -d "$root/DEBIAN" "$root/usr/bin" "$root/etc/fox" "$root/lib/systemd/system" \
           "$root/usr/share/doc/fox"
"$strip" -o "$root/usr/bin/fox" "$bin"
chmod 755 "$root/usr/bin/fox"
install -m 644 "$here/fox.json" "$root/etc/fox/fox.json"
install -m 644 "$here/fox.service" "$root/lib/systemd/system/fox.service"
install -D -m 644 "$here/sysusers.conf" "$root/usr/lib/sysusers.d/fox.conf"
for s in postinst prerm postrm; do install -m 755 "$here/$s" "$root/DEBIAN/$s"; done
echo /etc/fox/fox.json > "$root/DEBIAN/conffiles"
install -m 644 "$top/README.md" "$root/usr/share/doc/fox/README.md"
install -m 644 "$top/boards/README.md" "$root/usr/share/doc/fox/README.boards.md"
for f in "$top"/third_party/licenses/*.txt; do install -m 644 "$f" "$root/usr/share/doc/fox/"; done
{
  echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
  echo "Upstream-Name: fox"
  echo
  echo "Files: *"
  echo "Copyright: the fox authors"
  echo "License: no licence chosen yet; see the fox repository"
  echo
  echo "The static binary /usr/bin/fox links these libraries; their licences and notices are the"
  echo "files next to this one (also printed by \`fox version --licenses\`):"
  echo "  libuv (MIT) libuv.txt; libwebsockets (MIT, sha-1.c BSD-3-Clause) libwebsockets.txt;"
  echo "  mbedTLS (Apache-2.0) mbedtls.txt; SQLite (public domain) sqlite.txt;"
  echo "  nlohmann_json (MIT) nlohmann_json.txt; Canonical raft (LGPL-3.0-only with a static"
  echo "  linking exception) raft.txt, LGPL-3.0.txt, GPL-3.0.txt. (lz4.txt: lz4, raft's snapshot"
  echo "  compression, is not linked; its notice is there for builds that link it.)"
} > "$root/usr/share/doc/fox/copyright"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: fox
Version: $version
Architecture: $arch
Maintainer: fox developers <fox@localhost>
Installed-Size: $size
Depends: adduser
Section: net
Priority: optional
Homepage: https://github.com/kalmyk/fox-wamp
Description: WAMP v2 router, MQTT broker and FOX server in one static binary
 fox is one process that is a WAMP v2 router (WebSocket and RawSocket; JSON,
 MessagePack, CBOR), an MQTT 3.1.1 broker (TCP, WebSocket, TLS) and a server of
 fox-wamp's FOX protocol, with retained state, SQLite history and a masterfree
 cluster, made for edge gateways and Raspberry Pis. The package runs it as the
 systemd service fox (user fox, data in /var/lib/fox, config /etc/fox/fox.json,
 which listens on 127.0.0.1 until edited).
CONTROL
mkdir -p "$out"
deb="$out/fox_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"

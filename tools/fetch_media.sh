#!/usr/bin/env bash
# Fetch the sample media with people into a cache outside git (never committed):
#   vtest.avi, messi5.jpg, basketball1.png  from Debian's opencv-doc package (examples/data/)
#   astronaut.png                           from the scikit-image wheel (skimage/data/)
# Usage: fetch_media.sh [CACHE_DIR]   (default: $ROBOSMPLX_CACHE or ~/.cache/robosmplx)/media
# Idempotent: files already present are not fetched again.
set -euo pipefail
CACHE=${1:-${ROBOSMPLX_CACHE:-$HOME/.cache/robosmplx}/media}
mkdir -p "$CACHE"
need() { for f in "$@"; do [ -s "$CACHE/$f" ] || return 0; done; return 1; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

if need vtest.avi messi5.jpg basketball1.png; then
  echo "fetch_media: opencv-doc (Debian) -> $CACHE"
  (cd "$TMP" && apt-get download opencv-doc >/dev/null 2>"$TMP/apt.log") || {
    cat "$TMP/apt.log" >&2
    echo "fetch_media: 'apt-get download opencv-doc' failed; on Debian/Ubuntu run 'apt-get update' first," \
         "or copy vtest.avi, messi5.jpg and basketball1.png from any OpenCV source tree's samples/data into $CACHE" >&2
    exit 1
  }
  D=./usr/share/doc/opencv-doc/examples/data
  dpkg-deb --fsys-tarfile "$TMP"/opencv-doc_*.deb | tar -x -C "$TMP" "$D/vtest.avi" "$D/messi5.jpg" "$D/basketball1.png"
  for f in vtest.avi messi5.jpg basketball1.png; do mv "$TMP/$D/$f" "$CACHE/$f"; done
fi

if need astronaut.png; then
  echo "fetch_media: scikit-image wheel -> $CACHE/astronaut.png"
  PIP=${PIP:-pip}
  "$PIP" download --no-deps --only-binary=:all: scikit-image==0.26.0 -d "$TMP" -q 2>&1 | grep -v "is ignored: it is neither" || true
  python3 - "$TMP" "$CACHE" <<'PY'
import glob, sys, zipfile
tmp, cache = sys.argv[1], sys.argv[2]
whl = glob.glob(f"{tmp}/scikit_image-*.whl")
if not whl:
    sys.exit("fetch_media: scikit-image wheel was not downloaded (see pip output above)")
with zipfile.ZipFile(whl[0]) as z, open(f"{tmp}/astronaut.png", "wb") as out:
    out.write(z.read("skimage/data/astronaut.png"))
PY
  mv "$TMP/astronaut.png" "$CACHE/astronaut.png"
fi
ls "$CACHE"

#!/usr/bin/env bash
# Unpacks the real lightningd builds the differential tests run against,
# from $CLN_HARNESS_LIGHTNINGD_DIR (default: shared/lightningd in the directory holding the
# repository) into target/lightningd/<version>/, once per tarball: a build is
# unpacked again only when its tarball's sha256 changed. Prints the directory
# to export as CLN_HARNESS_LIGHTNINGD_BUILDS, or nothing when there are no
# tarballs.
set -euo pipefail
cd "$(dirname "$0")/.."
src="${CLN_HARNESS_LIGHTNINGD_DIR:-$(dirname "$PWD")/shared/lightningd}"
dest="$PWD/target/lightningd"
shopt -s nullglob
tarballs=("$src"/lightningd-*.tar.xz)
if [ ${#tarballs[@]} -eq 0 ]; then
    echo "no lightningd tarballs in $src" >&2
    exit 0
fi
mkdir -p "$dest"
for t in "${tarballs[@]}"; do
    version="$(basename "$t" .tar.xz)"
    version="${version#lightningd-}"
    sum="$(sha256sum "$t" | cut -d' ' -f1)"
    dir="$dest/$version"
    if [ -f "$dir/.sha256" ] && [ "$(cat "$dir/.sha256")" = "$sum" ] && [ -x "$dir/lightningd/lightningd" ]; then
        continue
    fi
    rm -rf "$dir" "$dir.tmp"
    mkdir -p "$dir.tmp"
    tar -xJf "$t" -C "$dir.tmp"
    # Tarballs may hold the layout at the top or under one directory.
    inner="$dir.tmp"
    if [ ! -d "$inner/lightningd" ]; then
        inner="$(dirname "$(find "$dir.tmp" -path '*/lightningd/lightningd' -type f | head -n1)")/.."
    fi
    mv "$(cd "$inner" && pwd)" "$dir" 2>/dev/null || { mkdir -p "$dir"; cp -a "$inner"/. "$dir"/; }
    rm -rf "$dir.tmp"
    echo "$sum" > "$dir/.sha256"
    echo "unpacked $version into $dir" >&2
done
echo "$dest"

#!/usr/bin/env bash
# Installs the cln-harness binary for a CI job, as cheaply as it can be had:
#
#   1. an install already in the target directory (a restored CI cache) whose
#      `--version` is the one wanted;
#   2. the prebuilt wheel from PyPI (`pip install cln-harness==VERSION`), which
#      needs Python but no Rust;
#   3. `cargo install`: from the source next to this script when there is one
#      (the Action used straight from the cln-harness repository), else from
#      crates.io; rustup installs a minimal Rust toolchain first when cargo is
#      missing.
#
# The binary ends up at DIR/bin/cln-harness; its path is printed last, and
# written as `bin=PATH` to $GITHUB_OUTPUT when that is set.
#
# Environment:
#   CLN_HARNESS_VERSION      the version to install (default: this checkout's Cargo.toml)
#   CLN_HARNESS_INSTALL_DIR  where to install (default: ~/.cln-harness/VERSION)
#   CLN_HARNESS_INSTALL_FROM a space-separated list of the sources to try, in
#                            order (default: "cache pypi cargo")
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source_dir=
if [ -f "$here/../Cargo.toml" ] && grep -q '^name = "cln-harness"' "$here/../Cargo.toml"; then
    source_dir=$(cd "$here/.." && pwd)
fi

version=${CLN_HARNESS_VERSION:-}
if [ -z "$version" ] && [ -n "$source_dir" ]; then
    version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$source_dir/Cargo.toml" | head -n 1)
fi
if [ -z "$version" ]; then
    echo "error: set CLN_HARNESS_VERSION to the cln-harness version to install, e.g. 0.1.0" >&2
    exit 2
fi
dir=${CLN_HARNESS_INSTALL_DIR:-$HOME/.cln-harness/$version}
bin="$dir/bin/cln-harness"

# True when DIR/bin/cln-harness runs and is the wanted version.
installed() {
    [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null | head -n 1)" = "cln-harness $version" ]
}

from_pypi() {
    local py
    py=$(command -v python3 || command -v python || true)
    [ -n "$py" ] || { echo "no Python: skipping the wheel" >&2; return 1; }
    "$py" -m venv "$dir/venv" || return 1
    "$dir/venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary :all: "cln-harness==$version" || return 1
    mkdir -p "$dir/bin"
    ln -sf "$dir/venv/bin/cln-harness" "$bin"
}

from_cargo() {
    if ! command -v cargo >/dev/null 2>&1; then
        if [ -x "$HOME/.cargo/bin/cargo" ]; then
            export PATH="$HOME/.cargo/bin:$PATH"
        elif command -v curl >/dev/null 2>&1; then
            echo "no cargo: installing a minimal Rust toolchain with rustup" >&2
            curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --no-modify-path >&2 || return 1
            export PATH="$HOME/.cargo/bin:$PATH"
        else
            echo "no cargo and no curl to install it with" >&2
            return 1
        fi
    fi
    if [ -n "$source_dir" ]; then
        cargo install --locked --force --path "$source_dir" --root "$dir" >&2
    else
        cargo install --locked --force --version "=$version" --root "$dir" cln-harness >&2
    fi
}

for source in ${CLN_HARNESS_INSTALL_FROM:-cache pypi cargo}; do
    case $source in
        cache) ;;
        pypi) installed || from_pypi || echo "cln-harness $version: no wheel installed from PyPI" >&2 ;;
        cargo) installed || from_cargo || echo "cln-harness $version: cargo install failed" >&2 ;;
        *) echo "error: CLN_HARNESS_INSTALL_FROM: unknown source '$source' (known: cache pypi cargo)" >&2; exit 2 ;;
    esac
    if installed; then
        echo "cln-harness $version from $source: $bin" >&2
        [ -z "${GITHUB_OUTPUT:-}" ] || echo "bin=$bin" >> "$GITHUB_OUTPUT"
        echo "$bin"
        exit 0
    fi
done
echo "error: could not install cln-harness $version (tried: ${CLN_HARNESS_INSTALL_FROM:-cache pypi cargo})" >&2
exit 1

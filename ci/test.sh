#!/usr/bin/env bash
# The whole test suite, runnable on a fresh machine: it installs what the
# fixture plugins need (a venv with pyln-client, the cln-plugin fixture's
# build) and maturin, then runs every Rust test, and the Python wheel test.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r fixtures/plugins/requirements.txt -r ci/requirements.txt

if [ -f fixtures/plugins/cln-plugin-rs/Cargo.toml ]; then
    cargo build --quiet --release --locked \
        --manifest-path fixtures/plugins/cln-plugin-rs/Cargo.toml \
        --target-dir target/fixtures
    export CLN_HARNESS_CLN_PLUGIN="$PWD/target/fixtures/release/cln-plugin-fixture"
fi
export CLN_HARNESS_PYTHON="$PWD/.venv/bin/python"

# The real lightningd builds for tests/differential.rs. Without them that
# suite is skipped with its reason; under CI=true it fails instead.
builds="$(bash ci/unpack-lightningd.sh)"
if [ -n "$builds" ]; then
    export CLN_HARNESS_LIGHTNINGD_BUILDS="$builds"
fi

# Other platforms: compiled for where the toolchain has the target (added
# quietly if rustup can fetch it). Without one, tests/cli/portable.rs still
# audits that every Linux-only call sits behind cfg(target_os = "linux").
for target in x86_64-apple-darwin aarch64-unknown-linux-gnu; do
    if rustup target list --installed 2>/dev/null | grep -qx "$target" \
        || { [ "$target" = x86_64-apple-darwin ] && rustup target add "$target" >/dev/null 2>&1; }; then
        echo "ci/test.sh: cargo check --target $target"
        cargo check --quiet --locked --target "$target" --all-targets
    else
        echo "ci/test.sh: skipping cargo check --target $target: the target is not installed (rustup target add $target); the cfg audit in tests/cli/portable.rs runs instead"
    fi
done

cargo test --locked "$@"
# Builds the wheel with maturin and installs it into a fresh venv.
cargo test --locked --test wheel -- --ignored

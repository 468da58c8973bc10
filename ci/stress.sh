#!/usr/bin/env bash
# Load-proofing: runs every bundled fixture plugin N times (default 20) with
# both cores kept busy, and fails if any plugin's verdicts differ between
# runs. A verdict here is the list of "OUTCOME check" lines of `-v` (every
# check on its own line, checks "not judged" included, so the folding of
# warnings a plugin library causes, which depends on whether the library
# logged before exiting, is not compared) and the last line of the report, so a check that flips between PASS and FAIL, or moves
# from one check to another, is caught. Too slow for CI; run it by hand:
#
#   ci/stress.sh            # 20 runs of each fixture
#   ci/stress.sh 5          # fewer
#
# Needs what ci/test.sh installs (.venv with pyln-client; the cln-plugin
# fixture is used when CLN_HARNESS_CLN_PLUGIN names its binary).
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-20}"
python="${CLN_HARNESS_PYTHON:-$PWD/.venv/bin/python}"
cargo build --quiet --release --locked
bin="$PWD/target/release/cln-harness"

out="$(mktemp -d)"
burners=()
cleanup() {
    for p in "${burners[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$out"
}
trap cleanup EXIT

# Both cores busy for the whole stress run.
for _ in 1 2; do
    ( while :; do :; done ) &
    burners+=("$!")
done

# name|command...
cases=(
    "sample|fixtures/plugins/sample.py"
    "tutorial_raw|$python fixtures/plugins/tutorial_raw.py"
    "tutorial_pyln|$python fixtures/plugins/tutorial_pyln.py"
    "misbehave|fixtures/plugins/misbehave.py"
    "hooks|fixtures/plugins/hooks.py"
    "deaf|fixtures/plugins/deaf.py"
    "silent|fixtures/plugins/silent.py"
)
for d in crash-on-connect crash-on-extra-field reply-null-id handler-error exit-after-init exit-1s-after-init \
    die-method die-on-unknown-method die-on-invalid-json split-fragile huge-fragile stray-output; do
    cases+=("misbehave-$d|env CLN_HARNESS_DEFECT=$d fixtures/plugins/misbehave.py")
done
if [ -n "${CLN_HARNESS_CLN_PLUGIN:-}" ] && [ -x "$CLN_HARNESS_CLN_PLUGIN" ]; then
    cases+=("cln-plugin-rs|$CLN_HARNESS_CLN_PLUGIN")
fi

verdict() {
    grep -E '^(PASS|FAIL|WARN) |^SKIP [^ ]+ +not judged: |^lightningd |^this plugin ' "$1" |
        awk '$1 == "PASS" || $1 == "FAIL" || $1 == "WARN" || $1 == "SKIP" { print $1, $2; next } { print }' || true
}

failed=0
for c in "${cases[@]}"; do
    name="${c%%|*}"
    cmd="${c#*|}"
    first=""
    for i in $(seq 1 "$runs"); do
        read -r -a argv <<<"$cmd"
        if [ "${argv[0]}" = env ]; then
            env "${argv[1]}" "$bin" run -v -- "${argv[@]:2}" >"$out/$name.$i" 2>&1 || true
        elif [ "${#argv[@]}" -gt 1 ]; then
            "$bin" run -v -- "${argv[@]}" >"$out/$name.$i" 2>&1 || true
        else
            "$bin" run -v "${argv[0]}" >"$out/$name.$i" 2>&1 || true
        fi
        verdict "$out/$name.$i" >"$out/$name.$i.v"
        if [ -z "$first" ]; then
            first="$out/$name.$i.v"
        elif ! cmp -s "$first" "$out/$name.$i.v"; then
            echo "DIFFERENT $name: run $i differs from run 1:"
            diff "$first" "$out/$name.$i.v" | sed 's/^/    /' || true
            failed=1
        fi
    done
    echo "$name: $runs runs, $(tail -1 "$first")"
done
if [ "$failed" -ne 0 ]; then
    echo "stress: verdicts differ between runs"
    exit 1
fi
echo "stress: identical verdicts in every run"

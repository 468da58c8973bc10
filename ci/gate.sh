#!/usr/bin/env bash
# Runs cln-harness as a CI gate: JUnit and JSON reports written for the CI
# system, the harness's exit code passed through unchanged.
#
#   gate.sh [PLUGIN ARGS...]      e.g. gate.sh python3 "my plugin.py"
#
# The plugin command is taken word for word from the arguments; nothing is
# split on spaces. Without arguments it comes from CLN_HARNESS_PLUGIN.
#
# Environment:
#   CLN_HARNESS_PLUGIN   the plugin command when no argument is given: a JSON
#                        array of strings, e.g. ["python3", "my plugin.py"], or
#                        one path, e.g. ./myplugin (never split on spaces)
#   CLN_HARNESS_ARGS     extra `cln-harness run` flags: a JSON array, e.g.
#                        ["--cln-version", "all"], or flags separated by spaces
#                        (for values without spaces)
#   CLN_HARNESS_REPORTS  directory for cln-harness.junit.xml and cln-harness.json (default: cln-harness-reports)
#   CLN_HARNESS_BIN      the cln-harness binary (default: cln-harness on PATH)
set -uo pipefail

# Prints the elements of a JSON array of strings, each followed by a NUL.
json_array() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c '
import json, sys
try:
    v = json.loads(sys.argv[1])
except ValueError as e:
    sys.exit("not JSON: %s" % e)
if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
    sys.exit("not an array of strings")
sys.stdout.write("".join(x + "\0" for x in v))' "$1"
    elif command -v jq >/dev/null 2>&1; then
        jq -j 'if type == "array" and all(type == "string") then .[] + "\u0000" else error("not an array of strings") end' <<< "$1"
    else
        echo "neither python3 nor jq is there to read a JSON array" >&2
        return 1
    fi
}

# Reads a JSON array into `items`, or stops naming the variable it came from.
read_array() {
    local item
    if ! json_array "$1" > /dev/null; then
        echo "error: $2 is not a JSON array of strings: $1" >&2
        exit 2
    fi
    items=()
    while IFS= read -r -d '' item; do
        items+=("$item")
    done < <(json_array "$1")
}

plugin=()
if [ $# -gt 0 ]; then
    plugin=("$@")
else
    spec=${CLN_HARNESS_PLUGIN:-}
    if [ -z "$spec" ]; then
        echo "error: no plugin: pass the command as arguments (gate.sh python3 plugin.py), or set CLN_HARNESS_PLUGIN to a JSON array such as [\"python3\", \"plugin.py\"]" >&2
        exit 2
    fi
    case $spec in
        \[*) read_array "$spec" CLN_HARNESS_PLUGIN; plugin=("${items[@]}") ;;
        *) plugin=("$spec") ;;
    esac
fi

args=()
case ${CLN_HARNESS_ARGS:-} in
    \[*) read_array "$CLN_HARNESS_ARGS" CLN_HARNESS_ARGS; args=(${items[@]+"${items[@]}"}) ;;
    # Flags without spaces in their values: splitting on spaces is intended.
    # shellcheck disable=SC2206
    *) args=(${CLN_HARNESS_ARGS:-}) ;;
esac

reports=${CLN_HARNESS_REPORTS:-cln-harness-reports}
bin=${CLN_HARNESS_BIN:-cln-harness}
mkdir -p "$reports" || exit 2

"$bin" run --junit "$reports/cln-harness.junit.xml" --json "$reports/cln-harness.json" ${args[@]+"${args[@]}"} -- "${plugin[@]}"
status=$?

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    case $status in
        0) verdict="passed" ;;
        1) verdict="failed: a check failed" ;;
        3) verdict="failed: no check ran" ;;
        *) verdict="could not run (exit $status)" ;;
    esac
    printf '### cln-harness: %s\n\n`%s`; reports in `%s/`.\n' "$verdict" "${plugin[*]}" "$reports" >> "$GITHUB_STEP_SUMMARY"
fi
exit $status

#!/usr/bin/env bash
# Runs cln-harness as a CI gate: JUnit and JSON reports written for the CI
# system, the harness's exit code passed through unchanged.
#
# Environment:
#   CLN_HARNESS_PLUGIN   the plugin command, e.g. "./myplugin" or "python3 plugin.py" (required)
#   CLN_HARNESS_ARGS     extra `cln-harness run` flags, e.g. "--cln-version all --baseline cln-baseline.toml"
#   CLN_HARNESS_REPORTS  directory for cln-harness.junit.xml and cln-harness.json (default: cln-harness-reports)
#   CLN_HARNESS_BIN      the cln-harness binary (default: cln-harness on PATH)
set -uo pipefail

plugin=${CLN_HARNESS_PLUGIN:?set CLN_HARNESS_PLUGIN to the plugin command, e.g. ./myplugin}
reports=${CLN_HARNESS_REPORTS:-cln-harness-reports}
bin=${CLN_HARNESS_BIN:-cln-harness}
mkdir -p "$reports" || exit 2

# Word splitting is intended: both variables hold command lines.
# shellcheck disable=SC2086
"$bin" run --junit "$reports/cln-harness.junit.xml" --json "$reports/cln-harness.json" ${CLN_HARNESS_ARGS:-} -- $plugin
status=$?

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    case $status in
        0) verdict="passed" ;;
        1) verdict="failed: a check failed" ;;
        3) verdict="failed: no check ran" ;;
        *) verdict="could not run (exit $status)" ;;
    esac
    printf '### cln-harness: %s\n\n`%s`; reports in `%s/`.\n' "$verdict" "$plugin" "$reports" >> "$GITHUB_STEP_SUMMARY"
fi
exit $status

"""Thin pytest helpers over the cln-harness JSON report.

The checks are made by the `cln-harness` binary installed with this package;
these functions only run it and read its JSON report.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig

__all__ = ["HarnessError", "binary", "run", "assert_conformant"]


class HarnessError(Exception):
    """cln-harness could not run the plugin (a usage error, exit code 2)."""


def binary():
    """The cln-harness executable: the one installed with this package, else
    the first on PATH."""
    scripts = sysconfig.get_path("scripts")
    here = os.path.join(scripts, "cln-harness") if scripts else None
    if here and os.access(here, os.X_OK):
        return here
    found = shutil.which("cln-harness")
    if not found:
        raise HarnessError("cln-harness is not installed: pip install cln-harness")
    return found


def _command(plugin):
    """The plugin command: a list as given; a path; a .py file that is not
    executable is run with this interpreter."""
    if isinstance(plugin, (list, tuple)):
        return [str(p) for p in plugin]
    plugin = os.fspath(plugin)
    if plugin.endswith(".py") and not os.access(plugin, os.X_OK):
        return [sys.executable, plugin]
    return [plugin]


def run(plugin, *args, timeout=600):
    """Runs `cln-harness run --format json ARGS -- PLUGIN` and returns the
    JSON report (a dict with `runs`, one per profile)."""
    cmd = [binary(), "run", "--format", "json", *[str(a) for a in args], "--", *_command(plugin)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, check=False)
    try:
        report = json.loads(proc.stdout.decode("utf-8"))
    except ValueError:
        report = None
    if proc.returncode == 2 or report is None:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise HarnessError(err or "cln-harness exited with status %d" % proc.returncode)
    report["exit_code"] = proc.returncode
    return report


def assert_conformant(plugin, *args, strict=False, timeout=600):
    """Fails (AssertionError) when any check fails for PLUGIN, listing each
    failed check. `strict=True` also fails robust warnings; ARGS are further
    `cln-harness run` flags, e.g. "--cln-version", "all"."""
    flags = list(args) + (["--strict"] if strict else [])
    report = run(plugin, *flags, timeout=timeout)
    failures = []
    for r in report["runs"]:
        for c in r["checks"]:
            if c["outcome"] == "fail":
                failures.append("  %s %s: %s" % (r["profile"], c["id"], c["message"].splitlines()[0] if c["message"] else ""))
    if report["exit_code"] == 3:
        failures.append("  no check ran, so nothing was proven")
    if failures:
        raise AssertionError("cln-harness: %s is not conformant:\n%s" % (" ".join(_command(plugin)), "\n".join(failures)))
    return report

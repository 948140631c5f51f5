"""Runs ON the cluster as the probe's one-time task: prints the Python libraries and system facts
of the runtime as one JSON object on stdout (read back through jobs/runs/get-output ``logs``).

Stdlib only, so it works on any runtime; nothing here is imported by the cockpit itself.
"""

import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys


def _os_release():
    try:
        with open("/etc/os-release", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def _java():
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'"([^"]+)"', out.stderr)
    return match.group(1) if match else None


def _version_of(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def main():
    libraries = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            libraries[re.sub(r"[-_.]+", "-", name).lower()] = dist.version
    system = {
        "os": _os_release(),
        "python": platform.python_version(),
        "java": _java(),
        "spark": _version_of("pyspark") or os.environ.get("SPARK_VERSION"),
        "delta_lake": _version_of("delta-spark"),
        "scala": os.environ.get("SCALA_VERSION"),
    }
    json.dump(
        {
            "spark_version": os.environ.get("DATABRICKS_RUNTIME_VERSION", ""),
            "system": system,
            "python_libraries": libraries,
            "python_executable": sys.executable,
        },
        sys.stdout,
        sort_keys=True,
    )
    sys.stdout.write("\n")


main()

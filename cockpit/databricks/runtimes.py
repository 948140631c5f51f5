"""spark_version keys ("14.3.x-cpu-ml-scala2.12") to the cockpit's runtime ids ("14.3-lts-ml").

The bundled manifests list the keys each runtime answers to; a key no bundled runtime claims
keeps its own text, so an unknown or custom runtime still groups and never passes for another.
"""

from __future__ import annotations

from functools import cache


@cache
def _key_index() -> dict[str, str]:
    from cockpit.runtimes.manifest import bundled_ids, load_bundled

    index: dict[str, str] = {}
    for runtime_id in bundled_ids():
        for key in load_bundled(runtime_id).spark_version_keys:
            index.setdefault(key, runtime_id)
    return index


def runtime_for(spark_version: str | None) -> str:
    if not spark_version:
        return ""
    return _key_index().get(spark_version, spark_version)

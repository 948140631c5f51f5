"""Who the sample is: Kyros Insights, 14.3 LTS ML -> 16.4 LTS ML, MLflow 1.30 -> 2.22."""

from cockpit.runtimes.importer import inherit_base, parse_runtime_text, store_manifest
from cockpit.runtimes.manifest import load_bundled


def build(ctx) -> None:
    store = ctx.store
    with store.write() as tx:
        store.set_meta("migration.name", "Kyros DBR 16.4 + MLflow 2 cutover", conn=tx)
        store.set_meta("migration.from", "14.3-lts-ml", conn=tx)
        store.set_meta("migration.to", "16.4-lts-ml", conn=tx)
        store.append_event(
            "migration.started",
            {
                "name": "Kyros DBR 16.4 + MLflow 2 cutover",
                "from": "14.3-lts-ml",
                "to": "16.4-lts-ml",
            },
            source="sample",
            conn=tx,
        )
    # Kyros' own training image: 16.4 LTS ML plus the pins their team adds with %pip.
    freeze = (ctx.root / "runtimes" / "kyros-train-16.4.txt").read_text()
    manifest = inherit_base(
        parse_runtime_text(freeze, name="kyros-train-16.4"), load_bundled("16.4-lts-ml")
    )
    store_manifest(store, "kyros-train-16.4", manifest, origin="import")

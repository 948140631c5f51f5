"""Runtime manifests (bundled LTS data plus imported/probed ones) and the diff between two."""

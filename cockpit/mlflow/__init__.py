"""MLflow across generations: managed servers, the REST adapter, sync, verify and safeguards.

Nothing here imports ``mlflow`` at module level: servers of each generation run from their own
virtualenvs (:mod:`cockpit.mlflow.servers`) and the cockpit talks to them over HTTP.
"""

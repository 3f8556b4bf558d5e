"""The model registry: the one owner of the ``model`` schema.

- ``versions``: training runs (``model.als_runs``), each version's vectors, the active-model
  pointer (``model.active_model``), activation (the atomic swap), rollback and pruning;
  written by the training job and the admin actions.
- ``embeddings``: the lyrics vectors and the embedding runs, written by the lyrics job.
- ``vectors``: what serving reads of the active model and the lyrics embeddings: a
  listener's vector, item vectors, the nearest-neighbour searches through the HNSW indexes,
  and the SQL fragments other statements embed to read the active version in the same
  snapshot.

Nothing else in the project writes SQL against the ``model`` schema. Use it as
``from recsys import model_registry as registry``.
"""

from recsys.model_registry.versions import (
    ACTIVE_NDCG_SQL,
    ACTIVE_VERSION_SQL,
    HNSW_EF_CONSTRUCTION,
    HNSW_M,
    ModelNotFound,
    ModelVersion,
    NotActivatable,
    activate,
    active_metrics,
    active_version,
    create_run,
    deactivate,
    factors_table,
    finish_run,
    get_version,
    hnsw_index_name,
    hold_active_model,
    list_versions,
    mark_passed,
    prune,
    run_of_dag_run,
    vector_text,
    write_factors,
)

__all__ = [
    "ACTIVE_NDCG_SQL",
    "ACTIVE_VERSION_SQL",
    "HNSW_EF_CONSTRUCTION",
    "HNSW_M",
    "ModelNotFound",
    "ModelVersion",
    "NotActivatable",
    "activate",
    "active_metrics",
    "active_version",
    "create_run",
    "deactivate",
    "factors_table",
    "finish_run",
    "get_version",
    "hnsw_index_name",
    "hold_active_model",
    "list_versions",
    "mark_passed",
    "prune",
    "run_of_dag_run",
    "vector_text",
    "write_factors",
]

"""spark-submit entry points, one module per job (``spark_jobs/<job>.py``, submitted by path).
Each job has pure DataFrame -> DataFrame transforms (tested on tiny in-code frames) and a thin
``main(argv)`` wiring extract -> transform -> load. What jobs share lives in ``common/``: a job
never imports another job."""

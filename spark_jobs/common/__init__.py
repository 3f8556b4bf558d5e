"""What the Spark jobs share, so that no job imports another:

- ``session``: the SparkSession with the project's defaults;
- ``lake``: the events' Spark schema and the reader of the landed events (their paths come
  from ``recsys.lake``);
- ``play_stats``: the play rule and the per-interval stats and checksums (pure transforms);
- ``warehouse_store``: the drivers' writers of the counters' and the trending tables.
"""

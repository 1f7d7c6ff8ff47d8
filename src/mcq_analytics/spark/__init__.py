"""The Spark engine (docs/spark.md), in one place.

- ``submit``: how a job is assembled — Spark conf, the JDBC driver, the package zip for ``--py-files``, the
  environment — and checked before it is submitted; one way for ``run_etl.py`` and the Airflow operator.
- ``run``: ``run_spark_window`` (one ``spark-submit`` per window, with the run bookkeeping) and the ``auto``
  engine choice.
- ``jdbc``: JDBC URLs and the balanced read partitions of a scope (no Spark needed to test them).
- ``job``: the application's body (scope, JDBC reads, staging, swap); ``include/spark_jobs/build_fact.py``
  is the thin file ``spark-submit`` runs.
- ``facts``: the DataFrame definition of the rejects and the facts (``FACT_BUILDERS``).

Only ``job`` and ``facts`` import pyspark; the CLI, the DAGs and the Pandas engine never pay for it.
"""

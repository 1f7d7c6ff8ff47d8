"""The file ``spark-submit`` runs for the Spark engine; the job is ``mcq_analytics.spark.job`` (docs/spark.md),
shipped with it as the package zip of ``--py-files`` (``mcq_analytics.spark.submit``)."""

from mcq_analytics.spark.job import main

raise SystemExit(main())

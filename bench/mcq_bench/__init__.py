"""Benchmark: the Pandas and Spark engines against the in-database SQL reference (docs/performance.md).

``mcq-bench [--scale tiny|small|full] [--json PATH] [--engines pandas,spark,reference]`` (= ``python -m mcq_bench``;
``make bench`` runs it with ``BENCH_ARGS``)

It starts its own throwaway PostgreSQL (or uses ``--source-url``/``--warehouse-url`` when told to), generates
the data, and measures side by side in one run:

1. one hourly window with about ``window_large`` affected answer rows (1M at small and full scale);
2. the same small window (``window_small`` answers) on a small and on a large history: the per-window cost
   must not grow with history, and EXPLAIN of the scope and extract queries must show no sequential scan of
   answers;
3. a backfill over the large history's hourly windows: total time and peak memory;
4. Spark's start-up alone (``spark-submit`` of a job that does nothing);
5. window size against time for Pandas and Spark, and where Spark starts to win (``--engine auto``).

Every engine run happens in its own subprocess, so its peak RSS is its own (the worker's VmHWM; Spark's
process tree is sampled from /proc). The reference runs inside PostgreSQL: its client is tiny, and the
figure that matters is the backends' private memory, sampled from /proc when the server is local. Every
figure is also given as a ratio to the reference measured in the same run.

Data layout. ``generate()`` cannot append (it refuses non-empty tables, ``reset`` truncates them, and ids
always start at 1), and it writes every test and question at its ``start``, so the hour holding ``start``
touches every session. So each data set is generated on its own — the history straight into the source
tables, each window's data into a scratch schema and then copied in with its ids shifted by ``k × 10⁹`` —
and the catalogue rows (tests, questions) that were written at a data set's start are moved to one import
hour a day before the history, which no measured window contains. Regrades stay where the generator put
them: a regrade window legitimately recomputes every session of the regraded tests.

Modules: ``scales`` (scales, targets, layout constants), ``dataset`` (data sets into the source tables, warehouse
reset, clean-up), ``runner`` (one engine run in a subprocess, memory sampling), ``worker`` (the subprocess side),
``measure`` (the phases), ``explain`` (EXPLAIN checks), ``analysis`` (crossover, memory line, threshold),
``report`` (tables, targets, JSON), ``cli`` (the command line). It lives outside the runtime package
``mcq_analytics`` (which it only imports), so the deployed pipeline does not carry it.
"""

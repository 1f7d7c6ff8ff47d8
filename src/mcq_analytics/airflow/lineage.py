"""OpenLineage of the custom operators, through the OpenLineage provider's operator methods.

A build reads its fact's source tables (``facts.py``: ``Fact.sources``, in the source database's ``public``
schema) and writes its fact table and ``analytics.etl_rejects`` (the quarantine). ``LineageReporting`` gives an
operator ``get_openlineage_facets_on_start``/``…_on_complete``, which the provider's listener calls around
``execute``: datasets named per OpenLineage's naming for PostgreSQL (namespace ``postgres://host:port``, name
``database.schema.table``), derived from the operator's Airflow connections, and on completion the rows the run
wrote into each output as ``outputStatistics`` (the counts ``etl_run_log`` recorded). A failed task's event
(the provider falls back to ``…_on_complete``) carries the datasets without statistics. A finished build also
carries the run facet ``mcqAnalytics`` (``lineage_facets.MCQRunFacet``: pipeline, run id, engine, data interval,
rows read/written/rejected — what its asset event's ``extra`` says).

Nothing here runs unless the provider is enabled (a transport configured, docs/operations.md "Lineage"): the
listener is then not registered at all, and this module imports the OpenLineage client only when called.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from mcq_analytics.facts import fact

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from mcq_analytics.windows import Window

#: The schema of the source tables (``include/sql/source_schema.sql`` creates them unqualified).
SOURCE_SCHEMA = "public"
#: The quarantine every build writes its rejected source rows to.
REJECTS_TABLE = "analytics.etl_rejects"
#: The key of the build's run facet in the events' ``run.facets``.
RUN_FACET = "mcqAnalytics"
_DEFAULT_PORT = 5432


def postgres_dataset(url: str, table: str) -> tuple[str, str]:
    """``(namespace, name)`` of a table of the PostgreSQL database behind a libpq URL, as OpenLineage names
    PostgreSQL datasets: ``postgres://host:port`` and ``database.schema.table`` (no credentials)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    host = parts.hostname or query.get("host") or "localhost"
    port = parts.port or int(query.get("port") or _DEFAULT_PORT)
    database = unquote(parts.path.lstrip("/")) or query.get("dbname") or unquote(parts.username or "")
    return f"postgres://{host}:{port}", f"{database}.{table}"


def run_facts(pipeline: str, window: Window, run_id: str, engine: str, counts: Mapping[str, int]) -> dict[str, Any]:
    """The fields of a finished build's ``MCQRunFacet``."""
    return {"pipeline": pipeline, "etlRunId": run_id, "engine": engine,
            "dataIntervalStart": window.start.isoformat(), "dataIntervalEnd": window.end.isoformat(),
            "rowsRead": int(counts["rows_read"]), "rowsWritten": int(counts["rows_written"]),
            "rowsRejected": int(counts["rows_rejected"])}


def build_lineage(pipelines: Iterable[str], source_url: str, warehouse_url: str,
                  written: Mapping[str, int] | None = None, rejected: int | None = None,
                  run: Mapping[str, Any] | None = None) -> OperatorLineage:
    """Inputs: every source table the pipelines read (once each); outputs: their fact tables and
    ``analytics.etl_rejects``. ``written`` (rows per pipeline) and ``rejected`` (total) become the outputs'
    ``outputStatistics`` row counts; ``None`` leaves the statistics out (before or without a finished run).
    ``run`` (``run_facts``) becomes the ``mcqAnalytics`` run facet."""
    from airflow.providers.common.compat.openlineage.facet import (
        InputDataset,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage

    def stats(rows: int | None) -> dict[str, Any]:
        return {} if rows is None else {"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=int(rows))}

    pipelines = list(pipelines)
    sources = dict.fromkeys(table for name in pipelines for table in fact(name).sources)
    inputs = [InputDataset(*postgres_dataset(source_url, f"{SOURCE_SCHEMA}.{table}")) for table in sources]
    outputs = [OutputDataset(*postgres_dataset(warehouse_url, fact(name).table),
                             outputFacets=stats(None if written is None else written.get(name, 0)))
               for name in pipelines]
    outputs.append(OutputDataset(*postgres_dataset(warehouse_url, REJECTS_TABLE), outputFacets=stats(rejected)))
    run_facets: dict[str, Any] = {}
    if run is not None:
        from mcq_analytics.airflow.lineage_facets import MCQRunFacet

        run_facets[RUN_FACET] = MCQRunFacet(**run)
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=run_facets)


class LineageReporting:
    """Mixin for the MCQ operators: their lineage through the OpenLineage provider's operator methods.

    The operator names its pipelines (``lineage_pipelines``) and its connections (``source_conn_id``,
    ``warehouse_conn_id``); ``execute`` calls ``record_lineage`` with the connection URLs it resolved and, once
    the run is recorded, the rows written per pipeline and the rejects (and a build its ``run_facts``), which
    ``…_on_complete`` reports.
    """

    source_conn_id: str
    warehouse_conn_id: str
    _lineage_urls: tuple[str, str] | None = None
    _lineage_written: dict[str, int] | None = None
    _lineage_rejected: int | None = None
    _lineage_run: dict[str, Any] | None = None

    def lineage_pipelines(self) -> list[str]:
        raise NotImplementedError

    def record_lineage(self, source_url: str, warehouse_url: str, written: Mapping[str, int] | None = None,
                       rejected: int | None = None, run: Mapping[str, Any] | None = None) -> None:
        """What ``…_on_complete`` reports: the URLs the run used and, after a recorded run, its counts."""
        self._lineage_urls = (source_url, warehouse_url)
        if written is not None:
            self._lineage_written = dict(written)
            self._lineage_rejected = int(rejected or 0)
        if run is not None:
            self._lineage_run = dict(run)

    def _urls(self) -> tuple[str, str]:
        if self._lineage_urls is None:  # on start: resolved as execute will (at run time, never at parse time)
            from mcq_analytics.airflow import support

            return support.connection_url(self.source_conn_id), support.connection_url(self.warehouse_conn_id)
        return self._lineage_urls

    def get_openlineage_facets_on_start(self) -> OperatorLineage:
        """The datasets the task will read and write (no counts yet)."""
        return build_lineage(self.lineage_pipelines(), *self._urls())

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The datasets with the rows the run wrote to each output (also the failure event's, without counts)."""
        return build_lineage(self.lineage_pipelines(), *self._urls(), written=self._lineage_written,
                             rejected=self._lineage_rejected, run=self._lineage_run)

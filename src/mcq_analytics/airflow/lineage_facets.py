"""The custom OpenLineage run facet of a build, apart from ``lineage`` because importing the OpenLineage client
costs seconds: only the provider's listener (lineage enabled) ever imports this module."""

from __future__ import annotations

from attrs import define
from openlineage.client.facet_v2 import RunFacet


@define
class MCQRunFacet(RunFacet):
    """What one build did, as ``etl_run_log`` recorded it and its asset event's ``extra`` says: the pipeline,
    the run id (``etl_run_id`` of its rows), engine, data interval and the rows read, written and rejected
    (``rowsRead`` counts every source row of the window's scope: docs/data_contract.md section 5)."""

    pipeline: str
    etlRunId: str  # OpenLineage facets spell fields in camelCase
    engine: str
    dataIntervalStart: str
    dataIntervalEnd: str
    rowsRead: int
    rowsWritten: int
    rowsRejected: int

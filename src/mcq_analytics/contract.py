"""Constants of the data contract (docs/data_contract.md) that every engine uses, in a module neither engine
owns: the Spark engine must not import the Pandas engine (``transform``) to learn what an hour is."""

from __future__ import annotations

#: One UTC hour in epoch microseconds: facts bucket timestamps by exact integer floors of this.
HOUR_US = 3_600_000_000
#: The funnel's stages in order; ``drop_off_stage`` names the first stage with the biggest loss.
FUNNEL_STAGES = ("engaged", "submitted", "passed")
#: Every event time lies in [EVENT_TIME_MIN_US, EVENT_TIME_END_US): 2000-01-01 00:00 UTC inclusive to
#: 2100-01-01 00:00 UTC exclusive, in epoch microseconds (contract section 2, ``invalid_timestamp``). Fixed
#: bounds, never now(): a row's validity must not depend on when its window runs, or window orders would
#: not converge. The extract SQL sends a time outside them (infinity included) as 0, itself outside.
EVENT_TIME_MIN_US = 946_684_800_000_000
EVENT_TIME_END_US = 4_102_444_800_000_000

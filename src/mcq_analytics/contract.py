"""Constants of the data contract (docs/data_contract.md) that every engine uses, in a module neither engine
owns: the Spark engine must not import the Pandas engine (``transform``) to learn what an hour is."""

from __future__ import annotations

#: One UTC hour in epoch microseconds: facts bucket timestamps by exact integer floors of this.
HOUR_US = 3_600_000_000
#: The funnel's stages in order; ``drop_off_stage`` names the first stage with the biggest loss.
FUNNEL_STAGES = ("engaged", "submitted", "passed")

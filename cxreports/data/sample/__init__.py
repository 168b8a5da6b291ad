"""A synthetic contact centre written to the data contract, with planted truth.

The test bed for every statistic in the kit: :mod:`.planted` says what is
planted, :mod:`.generate` makes the tables (how a contact is made is told
there), :mod:`.write` writes them with ``truth.json`` beside them, and
:mod:`.broken` and :mod:`.damage` break them on purpose for validation tests.
"""

from .generate import SampleData, make_sample_data
from .planted import BEHAVIOURS, EFFECTS, VENDOR_OVERRIDES
from .write import BUILTIN_VERSION, builtin_source, write_sample_data

__all__ = ["BEHAVIOURS", "BUILTIN_VERSION", "EFFECTS", "SampleData", "VENDOR_OVERRIDES",
           "builtin_source", "make_sample_data", "write_sample_data"]

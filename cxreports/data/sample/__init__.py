"""A synthetic contact centre written to the data contract, with planted truth.

The generator is the test bed for every statistic in the kit: it plants
behaviours that move CSAT, NPS, customer effort and first contact resolution,
behaviours that move nothing, an effect that vanishes at one vendor, a lift
in a behaviour after it is coached, and agents who change team. What was
planted is written beside the data as ``truth.json`` so a test can ask a
method to find it.

How a contact is made: each agent has a propensity to show each behaviour
(site culture + agent skill + agent-by-behaviour noise, on the logit scale);
on every contact each behaviour is shown or not by that propensity, raised by
``coaching_lift`` for every earlier coaching session on it. Outcomes are
linear in the behaviours shown on that contact (logistic for FCR), plus an
agent effect and noise, then rounded stochastically (so the expected value
stays linear) and clipped to the scale. QA evaluates a sample of contacts,
favouring surveyed ones as many centres do, and sees the behaviours exactly.
"""

from .generate import SampleData, make_sample_data
from .planted import BEHAVIOURS, EFFECTS, VENDOR_OVERRIDES
from .write import BUILTIN_VERSION, builtin_source, write_sample_data

__all__ = ["BEHAVIOURS", "BUILTIN_VERSION", "EFFECTS", "SampleData", "VENDOR_OVERRIDES",
           "builtin_source", "make_sample_data", "write_sample_data"]

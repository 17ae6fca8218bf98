"""Demo raw folders: a synthetic 湖滨区 金融扶贫 programme that reads like the real one.

``generate`` writes one canonical CSV per raw file of ``huinong.schema``; ``split_last_month``
cuts a monthly delivery off one. The generator is vectorised end to end (numpy for the
simulation, polars for formatting and writing), so a million households take minutes, not
hours. Each stage draws from its own random stream, so the same inputs always write the
same bytes. Internally money is integer fen (分), rates are integer millionths and dates are
integer days since 1970-01-01; nothing is formatted until the CSV is written.

The stages, one module each: geography (villages) → households (with collection_rows, the
information collections) → entities → loans (who borrows; schedules, repayments) →
breaker (the policy's breaker on the simulated book) → files (the CSV). Policy numbers
(grade cut-offs and limits, terms, rate caps, breaker thresholds, the scoring items) come
from the profile, ``huinong.policy``; the rest is the demo's own realism.
"""

from huinong.demo.monthly import split_last_month
from huinong.demo.raw_folder import generate

__all__ = ["generate", "split_last_month"]

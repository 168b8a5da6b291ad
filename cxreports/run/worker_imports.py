"""What a run's worker processes use, imported once for all of them.

A local pool's fork server (:mod:`cxreports.run.executors`) imports this module
when it starts; each worker forked from it then begins with the analyses, the
report builder, WeasyPrint, papermill and nbconvert loaded, where a new
interpreter would spend ~4 CPU-s importing them. Nothing else imports it.
An ImportError here would be skipped by the server (the workers then import
what they use themselves); any other error would end it, and with it every
pool of the process: so the one import that fails for want of a system
library (WeasyPrint without Pango) is guarded.
"""

from contextlib import suppress

from ..reports import batch  # noqa: F401  (packs and scorecards: pandas, the analyses)
from . import notebooks

notebooks._import_papermill()  # first, so nbconvert finds jsonschema without the IRI check
import nbconvert  # noqa: E402, F401

# An error here would end the fork server, and every pool of the run with it; a
# worker that renders without Pango says so itself.
with suppress(Exception):
    import weasyprint  # noqa: F401  (the renderer: ~1 s to import)

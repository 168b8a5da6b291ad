"""What a run's worker processes use, imported once for all of them.

A local pool's fork server (:mod:`cxreports.run.executors`) imports this module
when it starts; each worker forked from it then begins with the analyses, the
report builder, WeasyPrint, papermill and nbconvert loaded, where a new
interpreter would spend ~4 CPU-s importing them. Nothing else imports it.
"""

import weasyprint  # noqa: F401  (the renderer: ~1 s to import)

from ..reports import batch  # noqa: F401  (packs and scorecards: pandas, the analyses)
from . import notebooks

notebooks._import_papermill()  # first, so nbconvert finds jsonschema without the IRI check
import nbconvert  # noqa: E402, F401

"""Validated tables -> tidy frames: the statistics, each a pure function, and
:class:`~cxreports.analyses.analysis.Analysis`, which holds one source's frames."""

"""Orchestration: parameters, executors, the notebook runner, the monthly run
and the demo. The command line (:mod:`cxreports.cli`) sits on top."""

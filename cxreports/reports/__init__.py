"""Analyses -> report models -> charts, HTML and PDF files, tables and the
notebook display helpers."""

"""The bottom layer: concepts every other layer names (KPIs, reporting months and
their windows, errors, safe files). Imports nothing else from the package."""

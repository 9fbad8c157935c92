"""Data curation: label-noise diagnosis (HOC), detection (SimiFeat) and DS2 data selection.

Import from :mod:`reliant.curation.api`.
"""

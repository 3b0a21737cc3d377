"""Lightspeed DMS plugin: the Web Orders endpoints the DMS polls and the 3PA inventory import."""

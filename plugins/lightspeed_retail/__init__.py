"""Lightspeed Retail (R-Series as the stock and price master): see ``plugin.py``."""

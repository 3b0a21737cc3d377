"""The POS integration hub: webstores ↔ point-of-sale and dealer-management systems."""

__version__ = "0.1.0"

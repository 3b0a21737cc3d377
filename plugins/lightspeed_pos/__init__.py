"""Lightspeed R-Series as a sales channel (the ``lightspeed_pos`` plugin)."""

"""Example hub plugin: stock levels from a CSV feed over HTTP."""

"""A built-in plugin whose dependency is missing: registering it must fail loudly."""

import not_a_real_dependency_of_the_hub  # noqa: F401

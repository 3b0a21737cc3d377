"""A local stand-in for Lightspeed R-Series (cloud.lightspeedapp.com + api.lightspeedapp.com).

``sandbox = create_app(bucket_size=90, drip_rate=20)`` then serve ``sandbox.app`` (e.g. with
``hub.serving.serve_in_thread``) and inspect or drive ``sandbox.state``.
"""

from .app import FaultInjector, Sandbox, create_app
from .state import DEFAULT_SEED_PATH, Fault, RequestLog, SandboxClock, SandboxState, WriteLog

__all__ = [
    "DEFAULT_SEED_PATH",
    "Fault",
    "FaultInjector",
    "RequestLog",
    "Sandbox",
    "SandboxClock",
    "SandboxState",
    "WriteLog",
    "create_app",
]

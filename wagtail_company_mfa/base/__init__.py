"""
What every factor shares: the gate's decision, verification and throttling, re-authentication, the pending
state and the session helpers (docs/architecture.md).
"""

"""Events: their names and channel groups, and the bus every write publishes through after commit.

Below every domain app; the WebSocket hub and consumers (realtime) sit above it and deliver what it sends.
"""

"""The live feed: one LISTEN per app process (``feed.Hub``) fanned out to WebSocket screens (``ws``)."""

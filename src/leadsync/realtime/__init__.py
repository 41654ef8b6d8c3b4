"""Real-time lead events: the durable event log, fan-out across instances, the WebSocket."""

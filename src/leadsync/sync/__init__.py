"""The sync engine's I/O edge: the queue, the worker, push, pull and inbound webhooks."""

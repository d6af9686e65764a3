"""Interoperability tests: certified relying-party libraries against a live MotID server."""

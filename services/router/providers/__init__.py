"""Providers: how the router talks to each kind of LLM API."""

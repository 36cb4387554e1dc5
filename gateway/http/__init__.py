"""The gateway's HTTP plumbing shared by every route: security headers, limits, health."""

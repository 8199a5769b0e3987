"""HTTP surfaces: the Easemob REST API (and, later, the seed APIs), on Starlette."""

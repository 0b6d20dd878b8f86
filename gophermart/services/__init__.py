"""Use cases. Each owns its transaction: views and models never commit."""

"""The only package that touches ARI: our port (interface), typed events, and the aioari adapter."""

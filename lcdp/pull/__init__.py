"""Pull adapters: the platform fetching partner data itself (HTTP APIs, file drops)."""

"""The built-in commands, one module per area; each exposes register(group)."""

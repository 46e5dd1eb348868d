"""Hook shim templates."""

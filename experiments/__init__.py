"""Runnable programs that use jaxdiv as any user would."""

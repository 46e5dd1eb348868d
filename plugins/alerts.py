"""The built-in ``notify``: alerts go to the watch log, and to stderr in the foreground.

The watch daemon sends its log (.gitgov/watch.log) through the ``gitgov``
logger and adds a stderr handler when it runs in the foreground, so one
logging call reaches both. Other plugins implement ``notify`` to forward
alerts elsewhere (chat, e-mail, a pager).
"""
from __future__ import annotations

from gitgov.core.hookspecs import hookimpl

__version__ = "1.0"


@hookimpl
def notify(finding, about, ctx) -> None:
    import logging  # imported when an alert is sent, not whenever the plugin is loaded

    levels = {"error": logging.ERROR, "warning": logging.WARNING}
    where = finding.path or (about.subject if about is not None else "") or "(daemon)"
    origin = f"{finding.plugin}/{finding.code}" if finding.plugin else finding.code
    logging.getLogger("gitgov.alerts").log(levels.get(finding.severity, logging.INFO),
                                           "ALERT %s %s [%s]: %s", finding.severity, where, origin,
                                           finding.message)

"""watchdog glue: filesystem events become hints on the engine's queue.

The handler runs on watchdog's thread and only translates and enqueues, so a
slow plugin can never back up the kernel's event queue. It subscribes to
creation, close-after-write, move and delete: not to every write, which on a
burst of files overflows inotify's queue (see DESIGN.md). When the queue does
overflow, watchdog only logs it; a log handler turns that line into a rescan.

A dataset folder that does not exist yet is covered by a non-recursive watch
on its nearest existing parent; when folders appear, the watches are planned
again and the new folder is scanned for files that arrived before its watch.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

from .scope import IGNORED_DIRS, Scope, builtin_ignored, to_rel

Hint = tuple[str, str]
OVERFLOW_LOGGERS = ("watchdog.observers.inotify_c", "watchdog.observers.inotify")
OVERFLOW = "the watcher's event queue overflowed"


def _event_filter() -> list[type]:
    from watchdog import events as ev

    return [ev.FileCreatedEvent, ev.FileClosedEvent, ev.FileMovedEvent, ev.FileDeletedEvent,
            ev.DirCreatedEvent, ev.DirMovedEvent, ev.DirDeletedEvent]


class _OverflowLog(logging.Handler):
    """watchdog reports an inotify overflow only as a log line; make it a rescan."""

    def __init__(self, hint: Callable[[Hint], None]):
        super().__init__(logging.WARNING)
        self._hint = hint

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self._hint(("rescan", OVERFLOW))


def _handler(root: Path, hint: Callable[[Hint], None]):
    from watchdog.events import FileSystemEventHandler

    def rel(path) -> str | None:
        r = to_rel(root, os.fsdecode(path))
        return None if r is None or builtin_ignored(r) else r

    class Handler(FileSystemEventHandler):
        def dispatch(self, event) -> None:  # noqa: D401 - watchdog's thread: translate only
            src = rel(event.src_path)
            dest = rel(event.dest_path) if getattr(event, "dest_path", "") else None
            if event.is_directory:
                if event.event_type in ("deleted", "moved") and src is not None:
                    hint(("dir-gone", src))
                if event.event_type in ("created", "moved"):
                    target = dest if event.event_type == "moved" else src
                    if target is not None:
                        hint(("dir", target))
                return
            # "created" and "closed" tell a file still being written from one finished:
            # a writer that pauses between creating and filling a file must not be read.
            kind = {"created": "created", "closed": "closed"}.get(event.event_type, "file")
            for path in (src, dest):
                if path is not None:
                    hint((kind, path))

    return Handler()


class Watcher:
    """The watchdog observer and the set of folders it watches."""

    def __init__(self, scope: Scope, hint: Callable[[Hint], None], log: logging.Logger):
        self.scope = scope
        self.hint = hint
        self.log = log
        self.observer = None
        self.watches: dict[tuple[str, bool], object] = {}
        self.waiting: dict[str, list[str]] = {}  # stand-in folder -> dataset folders not there yet
        self._overflow = _OverflowLog(hint)

    def start(self) -> list[str]:
        from watchdog.observers import Observer

        for name in OVERFLOW_LOGGERS:
            logging.getLogger(name).addHandler(self._overflow)
        self.observer = Observer()
        self.observer.start()
        return self.replan()

    def alive(self) -> bool:
        return self.observer is not None and self.observer.is_alive()

    def wanted(self) -> dict[str, bool]:
        """Folder -> recursive, for the roots that exist; parents stand in for missing ones."""
        want: dict[str, bool] = {}
        self.waiting: dict[str, list[str]] = {}
        for root in self.scope.roots:
            here = root.rel
            if root.recursive and not here:
                # Never hand watchdog the whole worktree: .git and .gitgov would
                # cost a watch per folder and echo the daemon's own writes.
                want[""] = want.get("", False)
                for child in _subfolders(self.scope.root):
                    want[child] = True
                continue
            while here and not self.scope.abspath(here).is_dir():
                here = here.rpartition("/")[0]
            recursive = root.recursive and here == root.rel
            if here != root.rel:
                self.waiting.setdefault(here, []).append(root.rel)
            want[here] = want.get(here, False) or recursive
        return want

    def replan(self) -> list[str]:
        """Match the watches to the folders that exist now; return the folders newly watched."""
        if self.observer is None:
            return []
        want = self.wanted()
        for key in [k for k in self.watches if want.get(k[0]) is not k[1]]:
            self._unschedule(key)
        added = []
        for folder, recursive in want.items():
            if (folder, recursive) not in self.watches and self._schedule(folder, recursive):
                added.append(folder)
        return added

    def _schedule(self, folder: str, recursive: bool) -> bool:
        path = str(self.scope.abspath(folder)) if folder else str(self.scope.root)
        try:
            watch = self.observer.schedule(_handler(self.scope.root, self.hint), path,
                                           recursive=recursive, event_filter=_event_filter())
        except (OSError, RuntimeError) as exc:
            # e.g. ENOSPC: the inotify watch limit; the periodic rescan still covers it.
            self.log.error("cannot watch %s: %s; relying on periodic rescans", folder or ".", exc)
            return False
        self.watches[(folder, recursive)] = watch
        return True

    def _unschedule(self, key: tuple[str, bool]) -> None:
        watch = self.watches.pop(key)
        try:
            self.observer.unschedule(watch)
        except (KeyError, OSError, RuntimeError):
            pass  # its folder is gone, and watchdog dropped the watch already

    def folders(self) -> list[str]:
        """What `gitgov watch status` shows: "data/raw", "data/x/**", "data (until data/new exists)"."""
        waiting = self.waiting
        shown = []
        for folder, recursive in sorted(self.watches):
            text = f"{folder or '.'}{'/**' if recursive else ''}"
            if folder in waiting:
                text += f" (until {' and '.join(waiting[folder])} exist{'s' if len(waiting[folder]) == 1 else ''})"
            shown.append(text)
        return shown

    def stop(self) -> None:
        for name in OVERFLOW_LOGGERS:
            logging.getLogger(name).removeHandler(self._overflow)
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(timeout=5)
            self.observer = None
        self.watches.clear()


def _subfolders(root: Path) -> list[str]:
    try:
        with os.scandir(root) as entries:
            return sorted(e.name for e in entries
                          if e.name not in IGNORED_DIRS and e.is_dir(follow_symlinks=False))
    except OSError:
        return []

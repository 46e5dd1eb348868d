"""What the hook shims run: ``python -S core/hookstart.py HOOK [ARGS...]``.

Python compiles a script it runs on every run (about 2 ms for hookrun.py) but
imports a module from its cached bytecode, so this script stays tiny and
imports hookrun. Stdlib only, like hookrun.
"""
import os
import sys

if __name__ == "__main__":
    # This folder (core/) heads sys.path while this runs as a script (unless
    # PYTHONSAFEPATH is set): import hookrun from it, then drop it, as it must
    # not shadow top-level packages such as GitPython's `git` once the full flow
    # enables site-packages.
    here = os.path.dirname(os.path.abspath(__file__))
    if not sys.path or os.path.abspath(sys.path[0]) != here:
        sys.path.insert(0, here)
    import hookrun

    del sys.path[0]
    sys.exit(hookrun.main(sys.argv[1:]))

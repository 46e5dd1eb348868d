"""A dataset's columns: observed type and statistics, declared rules, personal data and protection."""
from __future__ import annotations

from typing import Any

from .sources import Sources, loads

_SCAN = """SELECT payload FROM journal WHERE subject = ? AND kind = 'pii_classification'
           ORDER BY seq DESC LIMIT 1"""


def detected_pii(src: Sources, paths: list[str]) -> dict[str, dict[str, Any]]:
    """column -> what the newest privacy scan of these files found (kind, confidence, protected)."""
    found: dict[str, dict[str, Any]] = {}
    scans = src.cache.setdefault("pii", {})  # the report asks for each file twice
    for path in paths:
        if path not in scans:
            row = src.db.execute(_SCAN, (path,)).fetchone()
            scans[path] = loads(row[0]) if row else None
        payload = scans[path]
        for c in (payload or {}).get("columns") or []:
            if isinstance(c, dict) and c.get("column") and c["column"] not in found:
                found[c["column"]] = {**c, "path": path}
    return found


def columns(src: Sources, name: str, profile: dict[str, Any], files: list[dict[str, Any]]
            ) -> list[dict[str, Any]]:
    """Every column of the newest profile, then the declared ones it lacks."""
    ds = src.dataset(name)
    declared = dict(ds.columns) if ds else {}
    seen = [c for c in profile.get("columns") or [] if isinstance(c, dict) and c.get("name")]
    found = detected_pii(src, [f["path"] for f in sorted(files, key=lambda f: -f["seq"])])
    out = []
    for c in seen:
        decl = declared.get(c["name"]) or {}
        out.append(_column(c["name"], c, decl, found.get(c["name"]), ds, present=True))
    names = {c["name"] for c in seen}
    for col, decl in declared.items():
        if col not in names:
            out.append(_column(col, {}, decl or {}, found.get(col), ds, present=not seen))
    return out


def _column(name: str, stats: dict[str, Any], decl: dict[str, Any], detected: dict[str, Any] | None,
            ds: Any, present: bool) -> dict[str, Any]:
    state, text = pii_state(ds, decl, detected, present)
    return {
        "name": name,
        "type": stats.get("type") or decl.get("type"),
        "declared_type": decl.get("type"),
        "in_data": bool(stats),
        "null_fraction": stats.get("null_fraction"),
        "distinct": stats.get("distinct"),
        "min": stats.get("min"),
        "max": stats.get("max"),
        "description": decl.get("description", ""),
        "rules": rules_text(decl),
        "pii": {"declared": decl.get("pii"),
                "detected": {k: detected.get(k) for k in ("kind", "confidence", "sampled", "protected")}
                if detected else None},
        "protect": decl.get("protect") or ("file" if ds is not None and ds.encrypt == "file" else None),
        "protection": state,
        "protection_text": text,
    }


def pii_state(ds: Any, decl: dict[str, Any], detected: dict[str, Any] | None, present: bool
              ) -> tuple[str, str]:
    """("none" | "protected" | "allowed" | "unprotected", why) for one column."""
    declared = decl.get("pii")
    if declared is False or not (declared or detected):
        return "none", ""
    kind = declared if isinstance(declared, str) else (detected or {}).get("kind") or "personal data"
    if ds is not None and ds.encrypt == "file":
        return "protected", f"{kind}: the whole file is encrypted"
    protect = decl.get("protect")
    if protect is None:
        how = "detected" if detected else "declared pii"
        return "unprotected", f"{kind} ({how}) with no protect = ... in gitgov.toml"
    if protect == "allow":
        return "allowed", f"{kind}: stored as is (protect = \"allow\")"
    if protect == "drop" and present and detected:
        return "unprotected", f"{kind}: protect = \"drop\" but the column is still in the data"
    if protect == "mask" and detected:
        return "unprotected", f"{kind}: protect = \"mask\" but values still look like {kind}"
    if protect in ("encrypt", "pseudonymize") and detected:
        plain = (detected.get("sampled") or 0) - (detected.get("protected") or 0)
        if plain > 0:
            return "unprotected", (f"{kind}: protect = \"{protect}\" but {plain:,} of "
                                   f"{detected.get('sampled'):,} sampled values are plain")
    return "protected", f"{kind}: {protect}"


def rules_text(decl: dict[str, Any]) -> list[str]:
    """The declared rules of a column, as short phrases."""
    out = [word for word in ("required", "unique") if decl.get(word)]
    if decl.get("min") is not None:
        out.append(f"min {decl['min']}")
    if decl.get("max") is not None:
        out.append(f"max {decl['max']}")
    if decl.get("min_length") is not None or decl.get("max_length") is not None:
        out.append(f"length {decl.get('min_length', 0)}..{decl.get('max_length', '')}")
    if decl.get("allowed"):
        values = [str(v) for v in decl["allowed"]]
        out.append("one of " + ", ".join(values[:6]) + (", ..." if len(values) > 6 else ""))
    if decl.get("pattern"):
        out.append(f"pattern {decl['pattern']}")
    if decl.get("format"):
        out.append(f"format {decl['format']}")
    if decl.get("max_null_fraction") is not None:
        out.append(f"nulls <= {decl['max_null_fraction']:.0%}")
    out += [f"{k} {v}" for k, v in (decl.get("checks") or {}).items()]
    return out

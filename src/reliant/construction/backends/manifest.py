"""A CSV / JSONL manifest: one row per sample, ``path`` (relative to the manifest's folder, or
absolute) or ``url``, and ``label`` (a class name, or an integer index into ``--design``'s
classes). A row without either, or an integer label out of range, is a one-line error
naming the file, line and field."""

from __future__ import annotations

from pathlib import Path

from reliant.construction.backends.base import CollectionBackend, Item, Plan, register
from reliant.core.data import Field, Schema, load_records
from reliant.core.errors import DataError


def _design_classes(config) -> list[str] | None:
    if getattr(config, "design", None) is None:
        return None
    from reliant.construction.design import load_design

    return [c["name"] for c in load_design(config.design)["classes"]]


@register
class ManifestBackend(CollectionBackend):
    name, label = "manifest", "CSV/JSONL manifest of files or URLs"

    def plan(self, config) -> Plan:
        manifest = Path(config.manifest)
        records = load_records(manifest, schema=Schema([Field("label", "any")]))
        named = _design_classes(config)
        classes: list[str] = list(named or [])
        items: list[Item] = []
        for record in records:
            path, url = record.get("path"), record.get("url")
            if not (isinstance(path, str) and path.strip()) and not (isinstance(url, str) and url.strip()):
                raise record.error("needs a 'path' or a 'url'", field="path")
            label = record["label"]
            if isinstance(label, bool) or not isinstance(label, (str, int)):
                raise record.error(f"expected a class name or index, got {label!r}", field="label")
            if isinstance(label, int) or (isinstance(label, str) and label.strip().lstrip("-").isdigit() and named):
                index = int(label)
                if named is None:
                    raise record.error("an integer label needs --design to say which class it is", field="label")
                if not 0 <= index < len(named):
                    raise record.error(f"label {index} out of range (the design has {len(named)} classes: 0.."
                                       f"{len(named) - 1})", field="label")
                label = named[index]
            label = str(label).strip()
            if not label:
                raise record.error("empty label", field="label")
            if named is not None and label not in named:
                raise record.error(f"class {label!r} is not in the design ({', '.join(named)})", field="label")
            if label not in classes:
                classes.append(label)
            if isinstance(url, str) and url.strip():
                if not url.startswith(("http://", "https://")):
                    raise record.error(f"not an http(s) URL: {url!r}", field="url")
                items.append(Item(label=label, url=url.strip(), where=record.where))
            else:
                target = Path(path)
                target = target if target.is_absolute() else manifest.parent / target
                items.append(Item(label=label, path=str(target.resolve()), where=record.where))
        if not items:
            raise DataError("has no rows", file=manifest, field="manifest")
        return Plan(classes=classes, items=items, skipped=[])

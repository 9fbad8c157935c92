"""A local folder tree, one sub-folder per class (the ImageFolder layout): ``ROOT/<class>/**/<image>``.

Files that are not images by name (``.txt``, ``.csv``, ...) and files directly in ``ROOT`` are
reported and skipped; image files that do not decode are caught later, when every image is
decoded. A root without any class folder holding an image is a one-line error.
"""

from __future__ import annotations

from pathlib import Path

from reliant.construction.backends.base import CollectionBackend, Item, Plan, register
from reliant.construction.images import is_image_name
from reliant.core.errors import DataError


@register
class FolderBackend(CollectionBackend):
    name, label = "folder", "local folder tree"

    def plan(self, config) -> Plan:
        root = Path(config.root).resolve()  # the manifest names files by absolute path
        items, skipped, classes = [], [], []
        for entry in sorted(root.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_file():
                skipped.append({"path": str(entry), "reason": "not inside a class folder"})
                continue
            files = sorted(p for p in entry.rglob("*") if p.is_file() and not p.name.startswith("."))
            images = [p for p in files if is_image_name(p)]
            skipped += [{"path": str(p), "reason": f"not an image file ({p.suffix or 'no suffix'})"}
                        for p in files if not is_image_name(p)]
            if images:
                classes.append(entry.name)
                items += [Item(label=entry.name, path=str(p), where=str(p)) for p in images]
        if len(classes) < 1:
            raise DataError("has no class folder with image files (expected ROOT/<class>/<image>.png|jpg|...)",
                            file=root, field="root")
        return Plan(classes=classes, items=items, skipped=skipped)

"""How long reading XMP takes when a folder is opened (loda_desktop.sidecar_sync.import_xmp).

    .venv/bin/python benchmarks/xmp_import.py [N]

Makes N small JPEGs (half with a Lightroom-style sidecar, a quarter with XMP embedded) in a temporary folder and
a temporary catalog, then times the first read (every source parsed) and the second (nothing changed: only the
folder listing and the sidecars' stat).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

PACKET = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="{r}" xmp:Label="Green"/>'
    "</rdf:RDF></x:xmpmeta>"
)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LODA_HOME"] = str(Path(tmp) / "home")
        from loda_desktop.catalog import Catalog
        from loda_desktop.sidecar_sync import import_xmp

        folder = Path(tmp) / "shoot"
        folder.mkdir()
        paths = []
        for i in range(n):
            path = folder / f"IMG_{i:05d}.jpg"
            extra = {"xmp": PACKET.format(r=i % 6).encode()} if i % 4 == 1 else {}
            Image.new("RGB", (64, 48), (i % 256, 80, 40)).save(path, **extra)
            if i % 2 == 0:
                (folder / f"IMG_{i:05d}.xmp").write_text(PACKET.format(r=i % 6))
            paths.append(path)
        with Catalog() as catalog:
            catalog.add_photos(paths)
            for run in ("first open", "second open"):
                started = time.perf_counter()
                report = import_xmp(catalog, paths)
                seconds = time.perf_counter() - started
                print(f"{run}: {n} photos in {seconds:.3f} s ({1000 * seconds / n:.2f} ms/photo); {report.describe()}")


if __name__ == "__main__":
    main()

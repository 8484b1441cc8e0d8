"""docs/screenshot.py builds its shoot from copies: the photos given are only read."""

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "screenshot.py"


def load_script():
    spec = importlib.util.spec_from_file_location("docs_screenshot", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shoot_is_camera_named_copies_plus_three_spoiled_frames(tmp_path):
    script = load_script()
    src = tmp_path / "src"
    src.mkdir()
    originals = []
    for i, name in enumerate("abcd"):  # 4-pixel blocks: edges a blur must soften
        blocks = np.random.default_rng(i).integers(0, 256, size=(75, 100, 3), dtype=np.uint8)
        originals.append(src / f"{name}_by_Someone.png")
        Image.fromarray(blocks).resize((400, 300), Image.Resampling.NEAREST).save(originals[-1])
    digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in originals}
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    made = script.make_shoot(originals, shoot)
    names = [p.name for p in made]
    assert len(made) == len(originals) + len(script.SPOILED)
    assert all(n.startswith("DSC_") and n.endswith(".jpg") for n in names)
    assert {n.split("_", 2)[2] for n in names} >= {"a.jpg", "a_shaky.jpg", "b_iso12800.jpg", "c_export.jpg", "d.jpg"}
    sharp, shaky = (next(shoot.glob(f"*_{s}.jpg")) for s in ("a", "a_shaky"))
    with Image.open(sharp) as a, Image.open(shaky) as b:
        assert a.size == b.size
        detail = [np.abs(np.diff(np.asarray(im.convert("L"), dtype=float), axis=1)).mean() for im in (a, b)]
    assert detail[1] < 0.8 * detail[0]  # the shaky frame is blurred
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in originals} == digests  # only read

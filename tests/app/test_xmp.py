from loda_desktop.catalog import Catalog
from loda_desktop.ratings import ratings_from_catalog
from loda_desktop.xmp import read_sidecar_rating

from .badfiles import photo

ATTRIBUTE_FORM = """<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="{rating}"/>
 </rdf:RDF>
</x:xmpmeta>"""

ELEMENT_FORM = """<?xml version="1.0"?><x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"><xmp:Rating>{rating}</xmp:Rating>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>"""


def test_lightroom_and_darktable_sidecars(tmp_path):
    a = photo(tmp_path / "IMG_0001.jpg")
    (tmp_path / "IMG_0001.xmp").write_text(ATTRIBUTE_FORM.format(rating=4))
    b = photo(tmp_path / "IMG_0002.jpg", seed=2)
    (tmp_path / "IMG_0002.jpg.xmp").write_text(ELEMENT_FORM.format(rating=2))
    c = photo(tmp_path / "IMG_0003.jpg", seed=3)
    (tmp_path / "IMG_0003.XMP").write_text(ATTRIBUTE_FORM.format(rating=-1))  # Adobe's "rejected"
    assert read_sidecar_rating(a) == (4, None)
    assert read_sidecar_rating(b) == (2, None)
    assert read_sidecar_rating(c) == (0, "reject")


def test_missing_malformed_or_ratingless_sidecars_have_no_rating(tmp_path):
    a = photo(tmp_path / "a.jpg")
    assert read_sidecar_rating(a) is None
    (tmp_path / "a.xmp").write_text("<x:xmpmeta><unclosed>")
    assert read_sidecar_rating(a) is None
    (tmp_path / "a.xmp").write_text(ATTRIBUTE_FORM.format(rating="lots"))
    assert read_sidecar_rating(a) is None
    (tmp_path / "a.xmp").write_text(ATTRIBUTE_FORM.replace('xmp:Rating="{rating}"', ""))
    assert read_sidecar_rating(a) is None


def test_catalog_ratings_win_and_sidecars_fill_the_rest(tmp_path):
    rated_here = photo(tmp_path / "here.jpg")
    (tmp_path / "here.xmp").write_text(ATTRIBUTE_FORM.format(rating=1))
    photo(tmp_path / "lr.jpg", seed=2)
    (tmp_path / "lr.xmp").write_text(ATTRIBUTE_FORM.format(rating=5))
    photo(tmp_path / "unrated.jpg", seed=3)
    with Catalog() as cat:
        cat.add_photos([rated_here])
        cat.set_rating([rated_here], 3)
    got = {r.path.name: (r.stars, r.flag) for r in ratings_from_catalog([tmp_path])}
    assert got == {"here.jpg": (3, None), "lr.jpg": (5, None)}
    assert {r.path.name for r in ratings_from_catalog([tmp_path], sidecars=False)} == {"here.jpg"}

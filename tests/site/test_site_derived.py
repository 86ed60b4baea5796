"""Derived templates in site mode (issue 34): kiosks pull them like any template, and they go with their
photo and with the person."""

from __future__ import annotations

from core.gallery.derived_samples import DERIVED_KINDS
from tests.kits.paths import dev_people, dev_photos
from tests.kits.site_kit import make_engine


def test_kiosks_pull_derived_templates_and_lose_them_with_the_photo_and_the_person(pg, tmp_path, default_weights):
    _, url = pg
    admin = make_engine(tmp_path / "admin")
    outcome = admin.enroll_files("Ada Lovelace", dev_photos(dev_people()[0])[:2])
    ada = outcome.value.person_ids["Ada Lovelace"]
    admin.site_init(url)
    kiosk = make_engine(tmp_path / "kiosk")
    kiosk.site_join(url, "north")
    kiosk.sync_site_now()
    try:
        on_kiosk = kiosk.find_person("Ada Lovelace").id
        every = kiosk.store.list_samples(on_kiosk, include_derived=True)
        assert sorted(s.derived for s in every if s.derived) == sorted([k.value for k in DERIVED_KINDS] * 2)
        assert len(kiosk.samples(on_kiosk)) == 2  # the photos, listed apart
        matcher = kiosk.matcher()
        assert matcher.derived_count == 2 * len(DERIVED_KINDS) and matcher.occluded_threshold is not None

        admin.remove_samples([admin.samples(ada)[0].id])  # a photo goes: its derived templates with it
        kiosk.sync_site_now()
        assert len(kiosk.store.list_samples(on_kiosk, include_derived=True)) == 1 + len(DERIVED_KINDS)

        admin.delete_person(ada)
        kiosk.sync_site_now()
        assert kiosk.store.count_samples(derived=True) == 0 and kiosk.people() == []
    finally:
        kiosk.close()
        admin.close()

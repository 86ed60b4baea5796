"""The integration tests' local servers: a webhook receiver, ERPNext and Odoo (tests/kits/fake_*.py)."""

from __future__ import annotations

import pytest

from tests.kits.fake_erpnext import FakeErpnext
from tests.kits.fake_odoo import FakeOdoo
from tests.kits.fake_webhook import FakeWebhook


@pytest.fixture
def hook():
    with FakeWebhook() as server:
        yield server


@pytest.fixture
def erp():
    with FakeErpnext() as server:
        yield server


@pytest.fixture
def odoo():
    with FakeOdoo() as server:
        yield server

"""What the deployment tests share: a stand-in Auth0 tenant that production-mode servers trust, a scratch database,
and a development server's settings. (`issuer` here is the tenant's, where the root conftest.py's is the local
issuer in process: no test in this folder uses that one.)"""

from __future__ import annotations

import pytest

from tests.utils.postgres import migrate


@pytest.fixture(scope="module")
def issuer(jwks):
    """The stand-in Auth0 tenant that production-mode servers here trust (tests/conftest.py's `jwks`)."""
    return jwks


@pytest.fixture(scope="module")
def database(pg, local_pem) -> str:
    created = pg.create_database()
    migrate(created, local_pem)
    return created


@pytest.fixture
def development(database_url, local_pem) -> dict[str, str]:
    """Settings of a development server on the suite's database (these tests write nothing) and test key."""
    return {"DATABASE_URL": database_url, "LOCAL_ISSUER_PRIVATE_KEY": local_pem}

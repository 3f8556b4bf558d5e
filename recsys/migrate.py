"""``python -m recsys.migrate``: create the warehouse's and Airflow's databases when missing,
then apply the warehouse's migrations and analyst views.

What a production deployment runs once before the app and the scheduler (docker compose's
``migrate`` service); on the local stack ``python -m recsysctl migrate`` does the same.
"""

from __future__ import annotations

import sys

from recsys import db
from recsys.settings import SettingsError, load_settings, require


def main() -> int:
    settings = load_settings()
    try:
        require(settings, "postgres_password")
    except SettingsError as err:
        sys.exit(f"error: {err}")
    db.ensure_databases(settings)
    applied = db.migrate(settings)
    print(f"applied: {', '.join(applied) or 'nothing (up to date)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

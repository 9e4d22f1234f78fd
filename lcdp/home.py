"""The platform home: a folder that ``lcdp init`` or ``lcdp demo`` made. Kept free of heavy
imports: the command line checks the home before anything else loads."""

from __future__ import annotations

import os
from pathlib import Path

from lcdp.errors import HomeError

#: The file that marks a folder as a platform home.
HOME_MARKER = "lcdp-home.txt"
DEFAULT_HOME = Path(".lcdp")


def home_problem(home: Path) -> str | None:
    """Why ``home`` is not a usable platform home, or None when it is.

    A typo in ``--home`` must not silently start an empty platform, so a home is a folder
    that ``lcdp init``/``lcdp demo`` made, or one that earlier versions wrote a lake or a
    metadata DB into.
    """
    home = home.expanduser().resolve()
    create = f"create one with 'lcdp init --home {home}' or 'lcdp demo --home {home}'"
    if home.is_file():
        return f"{home} is a file, not a platform home; point --home (or LCDP_HOME) at a folder"
    if not home.is_dir():
        return f"no platform home at {home}: {create}, or point --home (or LCDP_HOME) at an existing one"
    if not any((home / p).exists() for p in (HOME_MARKER, "lake", "metadata.db", "landing")):
        return f"{home} is a folder but not a platform home (no {HOME_MARKER}): {create}"
    return None


#: What the platform's processes leave out of every file and folder they make: everything
#: for the group and others. The home holds partners' raw deliveries, quarantined rows with
#: their raw text, pseudonym keys and the metadata DB; no other local user may read them.
PRIVATE_UMASK = 0o077


def keep_private(home: Path) -> None:
    """Make the home readable by its owner only, and every file this process makes from now on.

    The umask covers what libraries write without asking us for a mode (Delta files written
    by the engine and delta-rs, SQLite's database, MLflow's artifacts, Airflow's logs); the
    home's own mode covers what an older version left readable inside it."""
    os.umask(PRIVATE_UMASK)
    if home.is_dir() and home.stat().st_uid == os.geteuid():
        home.chmod(0o700)


def mark(home: Path) -> None:
    """Make ``home`` (a folder, private to its owner) and mark it as a platform home."""
    home = home.expanduser().resolve()
    if home.is_file():
        raise HomeError(f"{home} is a file, not a platform home")
    home.mkdir(parents=True, exist_ok=True)
    keep_private(home)
    marker = home / HOME_MARKER
    if not marker.exists():
        marker.write_text("This folder is a Local Currency Data Platform home (lcdp --home).\n")

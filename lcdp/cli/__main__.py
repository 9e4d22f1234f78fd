"""``python -m lcdp.cli``: the ``lcdp`` script."""

from lcdp.cli import run

run()

"""Synthetic partner data: a deterministic world of local businesses, written out in each
partner's native format, with the ground truth kept beside (never inside) the partner files."""

from lcdp.calendar import default_start
from lcdp.generator.world import World, WorldParams, build_world
from lcdp.generator.writers import Manifest, generate

__all__ = ["Manifest", "World", "WorldParams", "build_world", "default_start", "generate"]

"""ganfx Blender extension (see blender_manifest.toml)."""

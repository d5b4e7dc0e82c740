"""The company administration's views, in the Companies viewset (Settings > Companies)."""

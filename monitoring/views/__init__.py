"""MONDAT's views, one module per page (or group of small pages)."""

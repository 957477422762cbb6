"""The config component: the layered source of truth."""

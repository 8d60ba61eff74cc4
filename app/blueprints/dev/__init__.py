"""Development-only pages (never registered in production)."""

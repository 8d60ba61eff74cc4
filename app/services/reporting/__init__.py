"""Read-only reports for admins and finance (dashboard) and for an assessor (compliance)."""

"""The checkout blueprint."""

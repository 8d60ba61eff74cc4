"""The support blueprint."""

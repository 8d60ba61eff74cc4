"""The seller blueprint."""

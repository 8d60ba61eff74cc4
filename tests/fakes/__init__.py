"""In-repo fakes of real PSP APIs, spoken to by the official SDKs in tests (never the network)."""

"""Use cases. The only layer that commits: each public function owns its transaction."""

"""The national side: province credentials, accepting snapshots, dead letters, freshness and map values."""

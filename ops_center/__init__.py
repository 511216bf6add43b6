"""ops_center package."""

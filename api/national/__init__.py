"""The national mode's API side: the map of the 34 provinces (geometry from the shared boundary file), the
ranking and the national PDF brief."""

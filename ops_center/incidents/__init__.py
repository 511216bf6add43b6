"""Field incidents: categories, reports mapped to wards, status machine, duplicate linking, Open311."""

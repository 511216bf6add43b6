"""Public-service dossiers (hồ sơ): procedures, events, business-day calendar, KPIs."""

"""The service side of the pages: sessions, and the data `dashboards` shows."""

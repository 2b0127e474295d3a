"""Linli service: the FastAPI application, database, ingest, admin and the linli CLI."""

"""CRM bridge: the system of record for customers and conversations (FastAPI + SQLAlchemy 2)."""

__version__ = "0.1.0"

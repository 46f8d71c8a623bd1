"""WSGI entry point for gunicorn: ``woody_api.wsgi:app``."""

from .app import create_app

app = create_app()
